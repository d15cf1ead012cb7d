"""Convert clue/roberta_chinese_pair_large into PaddleNLP BertModel.

Expects BertModel shapes: 24 layers, hidden 1024, 16 heads,
intermediate 4096, vocab 21128, 512 positions,
2 token type(s); refuses a checkpoint of any other shape.

    python convert/roberta_chinese_pair_large.py SRC OUT
"""
import sys

from paddle_roberta.seed_script import main

sys.exit(main('clue/roberta_chinese_pair_large'))
