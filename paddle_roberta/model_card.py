"""README.md of a converted directory: where it came from, how it was checked, how to load it."""

from __future__ import annotations

import datetime
import importlib.metadata
import os

PACKAGES = ("paddle-roberta", "numpy", "safetensors", "torch", "transformers", "paddlepaddle", "paddlenlp")


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def write_model_card(out: str, source: str, paddle_class: str, tokenizer_class, verify_text) -> None:
    lines = [
        f"# {os.path.basename(os.path.abspath(source))} for PaddleNLP",
        "",
        f"Converted from the Hugging Face PyTorch checkpoint `{source}` by paddle-roberta on "
        f"{datetime.date.today().isoformat()}.",
        "",
        "## How to use",
        "",
        "```python",
        "import paddle",
        "from paddlenlp.transformers import AutoModel, AutoTokenizer",
        "",
        f'model = AutoModel.from_pretrained("{os.path.basename(os.path.abspath(out))}")  # or {paddle_class}',
    ]
    if tokenizer_class:
        lines += [f'tokenizer = AutoTokenizer.from_pretrained("{os.path.basename(os.path.abspath(out))}")  # {tokenizer_class}',
                  'inputs = tokenizer("...", return_tensors="pd")',
                  "outputs = model(**inputs)"]
    lines += ["```", "", "Pass an explicit `attention_mask`: without one PaddleNLP masks `pad_token_id` tokens, transformers none.", ""]
    lines += ["## Parity with the original", ""]
    lines += [verify_text] if verify_text else ["Not verified at conversion time (`--no-verify`, or torch/transformers/paddlenlp not installed)."]
    lines += ["", "## Versions", ""] + [f"- {k} {v}" for k, v in versions().items()] + [""]
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
