"""What a task pipeline runs: a converted directory in Paddle's dygraph mode, or a Paddle Inference export through
``serving.Predictor``. Both take the same tokenizer output (``text.fast_tokenizer``, with the attention mask) and
give numpy outputs by name: ``logits``, ``start_logits``/``end_logits``, ``last_hidden_state``/``pooler_output``."""

from __future__ import annotations

import json
import os
import threading

import numpy as np

from ..errors import ConversionError
from ..families.tables import find_class
from ..loading import dygraph_here, load
from ..serving.predictor import INFERENCE_JSON, Predictor
from .text import fast_tokenizer

# what a PaddleNLP model returns positionally, by head, when it is not given return_dict
OUTPUT_NAMES = {"Model": ("last_hidden_state", "pooler_output"), "ForQuestionAnswering": ("start_logits", "end_logits")}


class Runner:
    """``config`` (config.json), ``head`` (``ForSequenceClassification``, …), ``tokenizer`` (transformers' fast one),
    ``max_length`` (tokens one sequence can hold) and ``run(feed) -> {name: ndarray}``."""

    def __init__(self, path: str):
        self.path = path
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        found = find_class(self.config["architectures"][0])
        if found is None:
            raise ConversionError(f"{path}: {self.config['architectures'][0]} is not a class this tool converts")
        self.family, self.head = found
        self.tokenizer = fast_tokenizer(path)
        # transformers' fast tokenizer sets its Rust tokenizer's truncation per call: two threads asking for other
        # lengths at once would race ("Already borrowed"); encoding takes milliseconds, so one at a time
        self.text_lock = threading.Lock()
        self.sentence_export = False  # a sentence-transformers export's graph: sentence embeddings only

    def tokenize(self, texts, pairs=None, truncation=False, max_length=None, first=0, **extra) -> tuple:
        """(feed, encodings): the padded inputs with the attention mask, and each text's own encoding (``extra``:
        ``return_offsets_mapping`` and the like). Each text is encoded on its own, as transformers' pipelines do (an
        empty ``text_pair`` is no pair there), then padded on the right; ``first``: the index of ``texts[0]`` in the
        call, for messages."""
        limit = min(max_length or self.max_length, self.max_length)
        cut = {"truncation": True, "max_length": limit} if truncation else {}
        rows = []
        for i, text in enumerate(texts):
            pair = pairs[i] if pairs is not None and pairs[i] else None
            with self.text_lock:
                enc = self.tokenizer(text, pair, return_attention_mask=True, **cut, **extra)
            if len(enc["input_ids"]) > self.max_length:  # past the position table: transformers' model fails too
                raise ValueError(f"input {first + i} is {len(enc['input_ids'])} tokens; the model reads at most "
                                 f"{self.max_length}: pass truncation=True to cut it")
            rows.append(enc)
        return self.pad(rows), rows

    def pad(self, rows: list) -> dict:
        """The model's inputs for encodings of several lengths: padded on the right, as arrays."""
        width = max(len(r["input_ids"]) for r in rows)
        pad = {"input_ids": self.tokenizer.pad_token_id, "attention_mask": 0, "token_type_ids": 0}
        feed = {name: np.array([list(r[name]) + [pad[name]] * (width - len(r[name])) for r in rows], dtype=np.int64)
                for name in self.input_names if name in rows[0]}
        if "token_type_ids" in self.input_names and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        return feed


class Dygraph(Runner):
    def __init__(self, path: str):
        super().__init__(path)
        from paddlenlp.utils.log import logger

        # PaddleNLP warns that the RoBERTa heads leave the pooler the conversion wrote unused: known, and no answer
        # depends on it (docs/differences.md); a pipeline user would take it for a problem
        level = logger.logger.level
        logger.set_level("ERROR")
        try:
            self.model = load(path)
        finally:
            logger.logger.setLevel(level)
        self.max_length = self.family.positions(self.config["max_position_embeddings"], self.config["pad_token_id"])
        self.input_names = ["input_ids", "attention_mask"] + (["token_type_ids"] if self.family.token_types else [])

    def run(self, feed: dict) -> dict:
        import paddle

        dygraph_here()
        with paddle.no_grad():
            out = self.model(**{k: paddle.to_tensor(v) for k, v in feed.items()})
        names = OUTPUT_NAMES.get(self.head, ("logits",))
        out = out if isinstance(out, (tuple, list)) else (out,)
        return {name: value.numpy() for name, value in zip(names, out)}


class Exported(Runner):
    def __init__(self, path: str, predictor: Predictor | None = None):
        """``predictor``: a ``Predictor`` already made for ``path`` (the SimpleServer's), used instead of a new one."""
        super().__init__(path)
        self.predictor = predictor or Predictor(path)
        self.max_length = self.predictor.spec["max_length"]
        self.sentence_export = bool(self.predictor.spec.get("sentence"))
        self.input_names = self.predictor.input_names

    def run(self, feed: dict) -> dict:
        return self.predictor.run(feed)


def open_runner(path: str) -> Runner:
    """The runner for ``path``: an export (``inference.json`` beside it) or a converted directory."""
    return Exported(path) if os.path.isfile(os.path.join(path, INFERENCE_JSON)) else Dygraph(path)
