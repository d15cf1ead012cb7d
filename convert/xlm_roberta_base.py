"""Convert xlm-roberta-base into PaddleNLP XLMRobertaForMaskedLM.

Expects XLMRobertaForMaskedLM shapes: 12 layers, hidden 768, 12 heads,
intermediate 3072, vocab 250002, 514 positions,
1 token type(s); refuses a checkpoint of any other shape.

    python convert/xlm_roberta_base.py SRC OUT
"""
import sys

from paddle_roberta.seed_script import main

sys.exit(main('xlm-roberta-base'))
