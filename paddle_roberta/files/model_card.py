"""README.md of a converted directory: where it came from, how it was checked, how to load it."""

from __future__ import annotations

import datetime
import importlib.metadata
import os

from ..families.tables import find_class

PACKAGES = ("paddle-roberta", "numpy", "safetensors", "torch", "transformers", "paddlepaddle", "paddlenlp")


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def write_model_card(folder: str, final_path: str, source: str, paddle_class: str, tokenizer_class, verify_text,
                     dtype: str = "float32", tokenizer_not_written: str | None = None, sentence: str | None = None) -> None:
    """README.md into ``folder`` (the temporary directory), naming ``final_path``, where it will be.
    ``source``: what the user gave, a hub id or a directory. ``tokenizer_not_written``: why the source's tokenizer has
    no PaddleNLP counterpart here (``tokenizer.kind.not_written``). ``sentence``: a sentence-transformers model's
    pipeline, in one line (``Pipeline.summary``)."""
    title = source if not os.path.isdir(source) else os.path.basename(os.path.abspath(source))
    name = os.path.basename(os.path.abspath(final_path))
    load_kw = "" if dtype == "float32" else ', dtype="float32"'
    lines = [
        f"# {title} for PaddleNLP",
        "",
        f"Converted from the Hugging Face PyTorch checkpoint `{source}` by paddle-roberta on "
        f"{datetime.date.today().isoformat()}.",
        "",
        *(["## Sentence embeddings", "",
            f"A sentence-transformers model ({sentence.split(': ', 1)[-1]}): the body below, and the rest of its pipeline "
            "in `sentence_encoder.json`. Its embeddings, as `SentenceTransformer.encode` gives them:", "",
            "```python",
            "from paddle_roberta import SentenceEncoder",
            f'vectors = SentenceEncoder("{name}").encode(["...", "..."], batch_size=32)  # numpy [n, dimension]',
            "```", "",
            "The model alone (below) gives token states, not the embedding.", ""] if sentence else []),
        "## How to use",
        "",
        "```python",
        "import paddle",
        f"from paddlenlp.transformers import AutoModel, AutoTokenizer, {paddle_class}",
        "",
        f'model = {paddle_class}.from_pretrained("{name}"{load_kw})  # AutoModel.from_pretrained("{name}"): the bare model',
    ]
    if tokenizer_class:
        lines += [f'tokenizer = AutoTokenizer.from_pretrained("{name}")  # {tokenizer_class}',
                  'inputs = tokenizer(["...", "..."], padding=True, return_attention_mask=True, return_tensors="pd")',
                  "outputs = model(**inputs)"]
    classifier = _classifier(paddle_class)
    resize = ", ignore_mismatched_sizes=True" if paddle_class == classifier else ""
    lines += ["```", ""]
    if tokenizer_class:
        lines += ["Pass the attention mask, as above: this directory's tokenizer returns it even unasked and its "
                  "`pad_token_id` is the id it pads with, but ids from elsewhere, or another tokenizer, need it passed.", ""]
    elif tokenizer_not_written:
        lines += [f"No tokenizer was written: {tokenizer_not_written}. Tokenize with the source's tokenizer in "
                  f'transformers (`AutoTokenizer.from_pretrained("{source}")`: its ids are this model\'s) and pass '
                  "`input_ids` and `attention_mask` as Paddle tensors.", ""]
    lines += ["To fine-tune, start from this directory with a new head, here a classifier"
              + (" (`ignore_mismatched_sizes=True`: this directory's classifier is replaced by a new one of "
                 "`num_classes`; leave it out to keep training this one, with its own number of classes)" if resize else "")
              + ":", "",
              "```python",
              "from paddlenlp.transformers import AutoModelForSequenceClassification",
              "num_classes = 2  # your task's",
              f'model = AutoModelForSequenceClassification.from_pretrained("{name}", num_classes=num_classes{resize}{load_kw})',
              "```", "",
              "(not with `low_cpu_mem_usage=True`: PaddleNLP's fast path leaves a new head without memory), or "
              f'`paddle_roberta.from_pretrained("{name}", cls="{classifier}", num_classes=num_classes{resize})`, the fast '
              "path with the new head initialised as PaddleNLP initialises it.", "",
              "Fine-tuning: `save_pretrained` into a new directory. Saved into this one, PaddleNLP writes "
              "`model_state.pdparams` beside `model.safetensors` and its own loader keeps reading the old "
              "safetensors; paddle-roberta then refuses the directory until `--weights` names the file to read.", "",
              "Faster loading of the model as it is (no random initialisation of weights that are then overwritten: a "
              "1.3 GB model loads 3 to 7 times faster, measured): PaddleNLP's `low_cpu_mem_usage=True`, then the "
              "LayerNorm epsilons it skips setting (they stay at Paddle's 1e-5 otherwise; this model's is the "
              "config's `layer_norm_eps`):", "",
              "```python",
              f'model = {paddle_class}.from_pretrained("{name}", low_cpu_mem_usage=True{load_kw})',
              "for layer in model.sublayers():",
              "    if isinstance(layer, paddle.nn.LayerNorm):",
              "        layer._epsilon = model.config.layer_norm_eps",
              "```", "",
              f'or, with paddle-roberta installed, `paddle_roberta.from_pretrained("{name}")`, which does the same and checks '
              "that every parameter came from the file.", ""]
    if dtype != "float32":
        lines += [f"The weights are stored in {dtype}. Paddle has no CPU kernels for it: on CPU load with "
                  f'`dtype="float32"` as above; on a GPU, `dtype="{dtype}"` keeps them as stored.', ""]
    lines += ["## Parity with the original", ""]
    lines += [verify_text] if verify_text else ["Not verified at conversion time (`--no-verify`, or torch/transformers/paddlenlp not installed)."]
    lines += ["", "## Versions", ""] + [f"- {k} {v}" for k, v in versions().items()] + [""]
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _classifier(paddle_class: str) -> str:
    """The sequence-classification class of the family ``paddle_class`` belongs to."""
    found = find_class(paddle_class)
    return found[0].paddle_class("ForSequenceClassification") if found else "AutoModelForSequenceClassification"
