"""Cases for the stable-PaddleNLP check (check_stable.py), built in the main environment.

    .venv/bin/python tests/stable/make_cases.py DIR

For every family x head: a small checkpoint with trained-looking weights and a tokenizer, converted
(and verified, under PaddleNLP 3.0.0b4) into both output formats; beside them the inputs, the torch
outputs on them, and transformers' token ids for a list of texts. check_stable.py, run under
PaddleNLP 2.x, loads the outputs and compares with these saved figures: the stable environment has
no torch or transformers.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np

from paddle_roberta import convert
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.families.tables import FAMILIES
from paddle_roberta.parity import compare as parity

VOCAB = {"bert": "wordpiece", "roberta": "bpe", "xlm-roberta": "sentencepiece"}
# Odd sizes, as the main tests' tiny models, with room for a real vocabulary
CONFIG = {
    "bert": dict(vocab_size=700, hidden_size=20, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=66, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0),
    "roberta": dict(vocab_size=700, hidden_size=20, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                    max_position_embeddings=66, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                    bos_token_id=0, eos_token_id=2),
}
CONFIG["xlm-roberta"] = CONFIG["roberta"]
# Texts every tokenizer must agree on ("ordinary"), and texts reported but not judged: Unicode that
# PaddleNLP 2.x's slow BertTokenizer handles differently from the tokenizers library.
TEXTS = {
    "ordinary": ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "The capital of France is Paris.",
                 "Hello world, hello WORLD.", "Paris is the {mask} of France.", "中国的首都是{mask}京。",
                 "numbers 3.14 and 1,000", "  spaces   and\ttabs  "],
    "unicode": ["x⁄y", "emoji 😀👍🏽 ™ © ½ → ★", "café naïve résumé Zürich", "ＦＵＬＬ－ＷＩＤＴＨ　１２３",
                "control\x00chars\x07 zero\u200bwidth", "Столица — Москва. عاصمة مصر"],
}


def build(root: str, only=None):
    """``only``: {(family, head), ...} to build a subset (tests)."""
    import transformers

    for family, fam in FAMILIES.items():
        for n, head in enumerate(fam.heads):
            if only is not None and (family, head) not in only:
                continue
            case = os.path.join(root, f"{family}-{head}")
            src = os.path.join(case, "hf")
            config = dict(CONFIG[family], num_labels=2 if head == "ForQuestionAnswering" else 3)
            model = build_checkpoint(src, fam.class_prefix + head, config, seed=20 + n, vocab=VOCAB[family])
            for fmt in ("safetensors", "pdparams"):
                convert(src, os.path.join(case, f"paddle-{fmt}"), format=fmt)  # verified here, under 3.0.0b4
            inputs = parity.make_batch(family, head, config["vocab_size"], config["max_position_embeddings"],
                                       config["pad_token_id"], seed=n, num_choices=2)
            out = parity.run_torch(model, inputs)
            arrays = {f"input:{k}": v for k, v in inputs.items()}
            arrays.update({f"hidden_states[{i}]": h for i, h in enumerate(out["hidden_states"])})
            outputs = list(parity.HEAD_OUTPUTS[head].items())
            arrays.update({f"output:{t}": out[t] for t, _ in outputs})
            np.savez(os.path.join(case, "torch.npz"), **arrays)

            tok = transformers.AutoTokenizer.from_pretrained(src)
            texts = {kind: [t.format(mask=tok.mask_token) for t in group] for kind, group in TEXTS.items()}
            meta = {
                "family": family, "head": head, "paddle_class": fam.heads[head].paddle_class,
                "auto_class": fam.heads["Model"].paddle_class, "base_prefix": fam.base_prefix + ".",
                "causal_mask": parity.needs_causal_mask(family, head),
                # HF output -> PaddleNLP output, and whether it is per token (judged at real tokens only)
                "outputs": [[t, p, t in parity.PER_TOKEN or f"{t}@{head}" in parity.PER_TOKEN] for t, p in outputs],
                "texts": {kind: [[t, tok(t)["input_ids"]] for t in group] for kind, group in texts.items()},
            }
            with open(os.path.join(case, "case.json"), "w", encoding="utf-8") as f:
                json.dump(meta, f, ensure_ascii=False, indent=1)
            shutil.rmtree(src)  # the stable side sees only what a user would bring it: the converted outputs
            print(f"built {family}-{head}", flush=True)


if __name__ == "__main__":
    root = sys.argv[1]
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    build(root)
