"""``SentenceEncoder``: a converted sentence-transformers model, run in Paddle alone, giving its embeddings.

    encoder = paddle_roberta.SentenceEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    vectors = encoder.encode(["今天天气很好", "It is a sunny day"])   # numpy [2, dimension]

``encode`` does what ``SentenceTransformer.encode`` does, step by step: the prompt (``prompt_name`` /
``prompt`` / the model's default) prepended, texts stripped (and lower-cased where the model says so), sorted
longest first and batched, tokenized with truncation at ``max_seq_length``, the body, then the pipeline
(``pooling.SentenceHead``), back in the caller's order.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..errors import ConversionError
from .modules import PIPELINE_JSON, Pipeline, read_pipeline


def dense_values(pipeline: Pipeline) -> list:
    """Each Dense module's tensors as numpy, from the weights file ``convert`` wrote."""
    from ..files.readers import Checkpoint

    values = []
    for m in pipeline.modules:
        if m["type"] == "Dense":
            with Checkpoint([m["weights"]]) as ckpt:
                values.append({n: ckpt.read(n) for n in ckpt.names()})
    return values


class SentenceEncoder:
    def __init__(self, path, dtype=None, weights=None, model=None):
        """``path``: a directory ``convert`` wrote from a sentence-transformers model (``sentence_encoder.json``
        beside the body). ``dtype``/``weights``: as ``from_pretrained``'s. ``model``: its body, loaded already."""
        import paddlenlp.transformers as pt

        from ..families.detect import paddle_family_and_head
        from ..files.source import read_config
        from ..parity.loading import load
        from .pooling import SentenceHead

        self.path = os.fspath(path)
        pipeline = read_pipeline(self.path)
        if pipeline is None:
            raise ConversionError(f"{os.path.join(self.path, PIPELINE_JSON)}: not found: {self.path} was not converted "
                                  "from a sentence-transformers model (one with modules.json)")
        self.pipeline = pipeline
        config_path = os.path.join(self.path, "config.json")
        fam, _ = paddle_family_and_head(read_config(config_path), config_path)
        self.family = fam
        self.model = model if model is not None else load(self.path, fam.heads["Model"].paddle_class, dtype, weights)
        if not os.path.isfile(os.path.join(self.path, "tokenizer_config.json")):
            raise ConversionError(f"{self.path}: no PaddleNLP tokenizer was written (see its README); "
                                  "SentenceEncoder needs one")
        self.tokenizer = pt.AutoTokenizer.from_pretrained(self.path)
        self.head = SentenceHead(pipeline, dense_values(pipeline))
        self._lock = threading.Lock()  # PaddleNLP's tokenizers keep per-call state (truncation settings)
        self._prompt_lengths = {}

    @classmethod
    def from_pretrained(cls, src, dtype=None, **options):
        """The encoder for ``src``: a directory ``convert`` wrote, or a sentence-transformers directory or hub id
        (converted into the cache first, as ``paddle_roberta.from_pretrained``; ``options``: convert's)."""
        from ..api import converted_dir, is_converted

        if is_converted(src):
            return cls(src, dtype)
        return cls(converted_dir(src, **options, **({"dtype": dtype} if dtype else {})))

    @property
    def dimension(self) -> int:
        return self.pipeline.dimension

    @property
    def max_seq_length(self) -> int:
        return self.pipeline.max_seq_length

    def prompt_for(self, prompt_name=None, prompt=None) -> str | None:
        """The prompt ``encode`` prepends: ``prompt``, else the one named, else the model's default."""
        if prompt is not None:
            return prompt
        if prompt_name is not None:
            if prompt_name not in self.pipeline.prompts:
                raise ValueError(f"prompt_name {prompt_name!r} is not one of this model's prompts "
                                 f"({', '.join(self.pipeline.prompts) or 'none'})")
            return self.pipeline.prompts[prompt_name]
        if self.pipeline.default_prompt_name is not None:
            return self.pipeline.prompts.get(self.pipeline.default_prompt_name)
        return None

    def tokenize(self, texts: list) -> dict:
        """The body's inputs for ``texts`` (prompts already prepended), as sentence-transformers' Transformer
        module makes them: stripped, lower-cased if the model says so, truncated at ``max_seq_length``."""
        texts = [str(t).strip() for t in texts]
        if self.pipeline.do_lower_case:
            texts = [t.lower() for t in texts]
        with self._lock:
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                                 return_attention_mask=True, return_token_type_ids=self.family.token_types)
        keys = ("input_ids", "attention_mask") + (("token_type_ids",) if self.family.token_types else ())
        return {k: np.asarray(enc[k], dtype=np.int64) for k in keys}

    def prompt_length(self, prompt: str) -> int:
        """Tokens of the prompt the pooling leaves out (``include_prompt`` false): the prompt tokenized alone, less
        its final special token (sentence-transformers' ``_get_prompt_length``)."""
        if prompt not in self._prompt_lengths:
            ids = self.tokenize([prompt])["input_ids"][0]
            n = len(ids) - (1 if int(ids[-1]) in set(self.tokenizer.all_special_ids) else 0)
            self._prompt_lengths[prompt] = n
        return self._prompt_lengths[prompt]

    def pooling_mask(self, feed: dict, prompt: str | None) -> np.ndarray:
        mask = feed["attention_mask"].copy()
        if prompt and not self.pipeline.pooling["include_prompt"]:
            mask[:, :self.prompt_length(prompt)] = 0
        return mask

    def encode(self, sentences, batch_size: int = 32, normalize: bool = False, prompt_name: str | None = None,
               prompt: str | None = None, show_progress_bar: bool | None = None) -> np.ndarray:
        """Embeddings of ``sentences`` (a string, or a list of strings), float32 numpy ``[n, dimension]`` (``[dimension]``
        for one string). ``normalize`` scales each to length 1 (after the model's own Normalize, if any). A
        progress bar shows for more than 10 batches unless ``show_progress_bar`` says otherwise."""
        import paddle

        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("sentences must be a string or a list of strings")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        prompt = self.prompt_for(prompt_name, prompt)
        if prompt:
            texts = [prompt + t for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")  # longest first: less padding per batch
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if show_progress_bar is None:
            show_progress_bar = len(starts) > 10
        if show_progress_bar:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            idx = order[start:start + batch_size]
            feed = self.tokenize([texts[i] for i in idx])
            pool_mask = self.pooling_mask(feed, prompt)
            with paddle.no_grad():
                out = self.model(**{k: paddle.to_tensor(v) for k, v in feed.items()}, return_dict=True)
                hidden = out.last_hidden_state.astype("float32")
                vectors = self.head(hidden, paddle.to_tensor(pool_mask))
            result[idx] = vectors.numpy()
        if normalize:
            result = result / np.maximum(np.linalg.norm(result, axis=1, keepdims=True), 1e-12)
        return result[0] if single else result

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pairwise similarity of two sets of embeddings, by the model's ``similarity_fn_name`` (cosine by default;
        dot, euclidean and manhattan as negative distances, as sentence-transformers)."""
        a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
        fn = self.pipeline.similarity_fn_name or "cosine"
        if fn == "cosine":
            a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-8)
            b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-8)
            return a @ b.T
        if fn == "dot":
            return a @ b.T
        if fn == "euclidean":
            return -np.linalg.norm(a[:, None] - b[None], axis=-1)
        if fn == "manhattan":
            return -np.abs(a[:, None] - b[None]).sum(axis=-1)
        raise ValueError(f"similarity_fn_name {fn!r} is not cosine, dot, euclidean or manhattan")
