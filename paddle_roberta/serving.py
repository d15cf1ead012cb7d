"""Run a model exported with ``paddle-roberta export --to inference`` through Paddle Inference.

    from paddle_roberta.serving import Predictor
    predictor = Predictor("served/")                     # oneDNN on, 2 CPU threads
    outputs = predictor(["中国的首都是北京。", "Hello world"])  # {"logits": array, ...}

Needs paddlepaddle only (and paddlenlp for text input: the tokenizer beside the model). ``inference.json``
beside the model names its inputs (name, dtype, rank) and outputs, in order.
"""

from __future__ import annotations

import json
import os

import numpy as np

INFERENCE_JSON = "inference.json"


class Predictor:
    def __init__(self, path: str, threads: int = 2, mkldnn: bool = True):
        from paddle import inference

        self.path = path
        with open(os.path.join(path, INFERENCE_JSON), encoding="utf-8") as f:
            self.spec = json.load(f)
        config = inference.Config(os.path.join(path, self.spec["model_file"]), os.path.join(path, self.spec["params_file"]))
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(threads)
        if mkldnn:
            config.enable_mkldnn()
        else:
            config.disable_mkldnn()
        config.disable_glog_info()
        self._predictor = inference.create_predictor(config)
        self._tokenizer = None

    @property
    def input_names(self) -> list:
        return [i["name"] for i in self.spec["inputs"]]

    @property
    def output_names(self) -> list:
        return list(self.spec["outputs"])

    def run(self, feed: dict) -> dict:
        """``feed``: input name -> numpy array (ids and masks as the model's inputs say); returns output name -> array.
        A causal LM exported from PaddleNLP's RobertaForCausalLM takes the 2-D 0/1 mask here too: the
        additive causal mask it needs is built from it (``spec["causal_mask"]``)."""
        from .parity import causal_additive_mask

        for spec in self.spec["inputs"]:
            value = np.asarray(feed[spec["name"]])
            if spec["name"] == "attention_mask" and self.spec.get("causal_mask") and value.ndim == 2:
                value = causal_additive_mask(value)
            self._predictor.get_input_handle(spec["name"]).copy_from_cpu(np.ascontiguousarray(value.astype(spec["dtype"])))
        self._predictor.run()
        handles = self._predictor.get_output_names()
        return {name: self._predictor.get_output_handle(h).copy_to_cpu() for name, h in zip(self.output_names, handles)}

    def tokenize(self, texts, text_pairs=None, max_length=None) -> dict:
        """The model's inputs for ``texts`` (a list of strings; for multiple choice, a list of lists of
        choices), padded, with the tokenizer beside the model."""
        if self._tokenizer is None:
            import paddlenlp.transformers as pt

            self._tokenizer = pt.AutoTokenizer.from_pretrained(self.path)
        choices = self.spec["rank"] == 3
        flat = [t for group in texts for t in group] if choices else list(texts)
        pairs = None
        if text_pairs is not None:
            pairs = [t for group in text_pairs for t in group] if choices else list(text_pairs)
        limit = max_length or self.spec["max_length"]
        enc = self._tokenizer(flat, pairs, padding=True, truncation=True, max_length=limit, return_attention_mask=True)
        feed = {name: np.asarray(enc[name], dtype=np.int64) for name in self.input_names if name in enc}
        if "token_type_ids" in self.input_names and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        if choices:
            n = len(texts[0])
            feed = {k: v.reshape(len(texts), n, -1) for k, v in feed.items()}
        return feed

    def __call__(self, texts, text_pairs=None, max_length=None) -> dict:
        return self.run(self.tokenize(texts, text_pairs, max_length))
