"""Convert clue/roberta_chinese_clue_tiny into PaddleNLP BertModel.

Expects BertModel shapes: 4 layers, hidden 312, 12 heads,
intermediate 1248, vocab 8021, 512 positions,
2 token type(s); refuses a checkpoint of any other shape.

    python convert/roberta_chinese_clue_tiny.py SRC OUT
"""
import sys

from paddle_roberta.seed_script import main

sys.exit(main('clue/roberta_chinese_clue_tiny'))
