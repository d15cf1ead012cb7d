"""Convert distilroberta-base into PaddleNLP RobertaForMaskedLM.

Expects RobertaForMaskedLM shapes: 6 layers, hidden 768, 12 heads,
intermediate 3072, vocab 50265, 514 positions,
1 token type(s); refuses a checkpoint of any other shape.

    python convert/distilroberta_base.py SRC OUT
"""
import sys

from paddle_roberta.seed_script import main

sys.exit(main('distilroberta-base'))
