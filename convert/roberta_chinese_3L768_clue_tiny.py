"""Convert clue/roberta_chinese_3L768_clue_tiny, or a fine-tune of it, into PaddleNLP.

Any head on an encoder of clue/roberta_chinese_3L768_clue_tiny's shape converts to its PaddleNLP class (BertModel as
published; a BertForSequenceClassification or other fine-tune of it just as well): 3 layers,
hidden 768, 12 heads, intermediate 3072, vocab 8021, 512 positions,
2 token type(s). A checkpoint of any other shape is refused (`paddle-roberta convert` takes any).

    .venv/bin/python convert/roberta_chinese_3L768_clue_tiny.py SRC OUT [--format pdparams] [--overwrite] [--no-verify]
"""
import sys

try:
    from paddle_roberta.dev.seed_script import main
except ModuleNotFoundError as e:  # another Python than the project's (the system one): say which to use
    sys.exit(f"{sys.argv[0]}: {e}; run it with the project's environment: .venv/bin/python {sys.argv[0]} ... "
             "(`make .venv/.installed` creates it)")

sys.exit(main('clue/roberta_chinese_3L768_clue_tiny'))
