"""README.md of a converted directory: where it came from, how it was checked, how to load it."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
from dataclasses import dataclass

from ..families.tables import find_class
from .templates import render

PACKAGES = ("paddle-roberta", "numpy", "safetensors", "torch", "transformers", "paddlepaddle", "paddlenlp")


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


@dataclass
class Card:
    """What the model card says of a conversion (templates/model_card.md.jinja)."""

    source: str  # what the user gave, a hub id or a directory
    paddle_class: str
    tokenizer_class: str | None = None
    verify_text: str | None = None  # the verification report, None when not verified
    dtype: str = "float32"
    tokenizer_not_written: str | None = None  # why the source's tokenizer has no PaddleNLP counterpart (tokenizer.kind)
    sentence: str | None = None  # a sentence-transformers model's pipeline in one line (``Pipeline.summary``)


def write_model_card(folder: str, final_path: str, card: Card) -> None:
    """README.md into ``folder`` (the temporary directory), naming ``final_path``, where it will be."""
    source = card.source
    classifier = _classifier(card.paddle_class)
    text = render(os.path.dirname(__file__), "model_card.md.jinja", **vars(card),
                  title=source if not os.path.isdir(source) else os.path.basename(os.path.abspath(source)),
                  name=os.path.basename(os.path.abspath(final_path)), date=datetime.date.today().isoformat(),
                  load_kw="" if card.dtype == "float32" else ', dtype="float32"', classifier=classifier,
                  resize=", ignore_mismatched_sizes=True" if card.paddle_class == classifier else "",
                  versions=versions())
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


def _classifier(paddle_class: str) -> str:
    """The sequence-classification class of the family ``paddle_class`` belongs to."""
    found = find_class(paddle_class)
    return found[0].paddle_class("ForSequenceClassification") if found else "AutoModelForSequenceClassification"
