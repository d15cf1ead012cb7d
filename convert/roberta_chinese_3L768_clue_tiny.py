"""Convert clue/roberta_chinese_3L768_clue_tiny into PaddleNLP BertModel.

Expects BertModel shapes: 3 layers, hidden 768, 12 heads,
intermediate 3072, vocab 8021, 512 positions,
2 token type(s); refuses a checkpoint of any other shape.

    python convert/roberta_chinese_3L768_clue_tiny.py SRC OUT
"""
import sys

from paddle_roberta.seed_script import main

sys.exit(main('clue/roberta_chinese_3L768_clue_tiny'))
