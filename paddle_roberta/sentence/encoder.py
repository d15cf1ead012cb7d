"""``SentenceEncoder``: a converted sentence-transformers model, run in Paddle alone, giving its embeddings.

    encoder = paddle_roberta.SentenceEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    vectors = encoder.encode(["今天天气很好", "It is a sunny day"])   # numpy [2, dimension]

``encode_sentences`` does what ``SentenceTransformer.encode`` does, step by step: the prompt (``prompt_name`` /
``prompt`` / the model's default) prepended, texts stripped (and lower-cased where the model says so), sorted
longest first and batched, tokenized with truncation at ``max_seq_length``, the body, then the pipeline
(``pooling.SentenceHead``), back in the caller's order. The dygraph ``SentenceEncoder`` and the inference
export's ``serving.Predictor`` both encode through it; each brings ``embed(feed, pooling_mask)``.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..errors import ConversionError
from .modules import MODULES_JSON, PIPELINE_JSON, Pipeline, read_pipeline


def prompt_for(pipeline: Pipeline, prompt_name=None, prompt=None) -> str:
    """The prompt ``encode`` prepends: ``prompt``, else the one named, else the model's default ("" for none)."""
    if prompt is not None:
        return prompt
    if prompt_name is not None:
        if prompt_name not in pipeline.prompts:
            raise ValueError(f"prompt_name {prompt_name!r} is not one of this model's prompts "
                             f"({', '.join(pipeline.prompts) or 'none'})")
        return pipeline.prompts[prompt_name]
    if pipeline.default_prompt_name is not None:
        return pipeline.prompts.get(pipeline.default_prompt_name) or ""
    return ""


def prepare(pipeline: Pipeline, texts) -> list:
    """Texts as sentence-transformers' Transformer module tokenizes them: stripped, lower-cased if the model says so."""
    texts = [str(t).strip() for t in texts]
    return [t.lower() for t in texts] if pipeline.do_lower_case else texts


def encode_sentences(impl, sentences, batch_size=32, normalize=False, prompt_name=None, prompt=None,
                     show_progress_bar=None, max_length=None) -> np.ndarray:
    """``impl``: a ``SentenceEncoder`` or a ``serving.Predictor`` of a sentence export (``pipeline``,
    ``tokenize_sentences(texts, max_length)``, ``special_ids``, ``embed(feed, pooling_mask)``)."""
    single = isinstance(sentences, str)
    texts = [sentences] if single else list(sentences)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("sentences must be a string or a list of strings")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    pipeline = impl.pipeline
    limit = min(max_length or pipeline.max_seq_length, pipeline.max_seq_length)
    prompt = prompt_for(pipeline, prompt_name, prompt)
    cut = 0
    if prompt:
        texts = [prompt + t for t in texts]
        if not pipeline.pooling["include_prompt"]:
            cut = prompt_length(impl, prompt, limit)
    order = np.argsort([-len(t) for t in texts], kind="stable")  # longest first: less padding per batch
    result = np.zeros((len(texts), pipeline.dimension), dtype=np.float32)  # float64 where ``embed`` gives it
    starts = range(0, len(texts), batch_size)
    if show_progress_bar is None:
        show_progress_bar = len(starts) > 10
    if show_progress_bar:
        from tqdm import tqdm

        starts = tqdm(starts, desc="Batches", unit="batch")
    for start in starts:
        idx = order[start:start + batch_size]
        feed = impl.tokenize_sentences([texts[i] for i in idx], limit)
        mask = feed["attention_mask"].copy()
        mask[:, :cut] = 0  # the prompt's tokens, where the model pools without them (sentence-transformers' Pooling)
        vectors = impl.embed(feed, mask)
        if vectors.dtype != result.dtype:
            result = result.astype(vectors.dtype)
        result[idx] = vectors
    if normalize:
        result = result / np.maximum(np.linalg.norm(result, axis=1, keepdims=True), 1e-12)
    return result[0] if single else result


def normalize_flag(normalize, normalize_embeddings, convert_to_numpy) -> bool:
    """``normalize``, or sentence-transformers' name for it; the result is always numpy."""
    if not convert_to_numpy:
        raise ValueError("encode returns numpy arrays (convert_to_numpy=True)")
    return normalize if normalize_embeddings is None else normalize_embeddings


def prompt_length(impl, prompt: str, limit: int) -> int:
    """Tokens of the prompt the pooling leaves out: the prompt tokenized alone, less its final special token
    (sentence-transformers' ``_get_prompt_length``)."""
    ids = impl.tokenize_sentences([prompt], limit)["input_ids"][0]
    return len(ids) - (1 if int(ids[-1]) in impl.special_ids else 0)


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
        self.path = os.fspath(path)
        pipeline = read_pipeline(self.path)
        if pipeline is None and os.path.isfile(os.path.join(self.path, MODULES_JSON)):
            raise ConversionError(f"{self.path}: a sentence-transformers directory, not converted yet: "
                                  f"SentenceEncoder.from_pretrained({self.path!r}) converts it (into the cache) first, "
                                  f"or run `paddle-roberta convert {self.path} OUT` and then SentenceEncoder(OUT)")
        if pipeline is None:
            raise ConversionError(f"{os.path.join(self.path, PIPELINE_JSON)}: not found: {self.path} was not converted "
                                  "from a sentence-transformers model (one with modules.json)")
        import paddlenlp.transformers as pt

        from ..families.detect import paddle_family_and_head
        from ..files.source import read_config
        from ..loading import load
        from .pooling import SentenceHead

        self.pipeline = pipeline
        config_path = os.path.join(self.path, "config.json")
        fam, _ = paddle_family_and_head(read_config(config_path), config_path)
        self.family = fam
        self.model = model if model is not None else load(self.path, fam.heads["Model"].paddle_class, dtype, weights)
        if not os.path.isfile(os.path.join(self.path, "tokenizer_config.json")):
            raise ConversionError(f"{self.path}: no PaddleNLP tokenizer was written (see its README); "
                                  "SentenceEncoder needs one")
        self.tokenizer = pt.AutoTokenizer.from_pretrained(self.path)
        self.special_ids = set(self.tokenizer.all_special_ids)
        self.head = SentenceHead(pipeline, dense_values(pipeline))
        self._lock = threading.Lock()  # PaddleNLP's tokenizers keep per-call state (truncation settings)
        self._dtype = "float32"

    @property
    def dimension(self) -> int:
        return self.pipeline.dimension

    @property
    def max_seq_length(self) -> int:
        return self.pipeline.max_seq_length

    def encode(self, sentences, batch_size: int = 32, normalize: bool = False, prompt_name: str | None = None,
               prompt: str | None = None, show_progress_bar: bool | None = None,
               normalize_embeddings: bool | None = None,
               convert_to_numpy: bool = True) -> np.ndarray:
        """Embeddings of ``sentences`` (a string, or a list of strings), float32 numpy ``[n, dimension]``
        (``[dimension]``
        for one string; ``[0, dimension]`` for none). ``normalize`` (or sentence-transformers' name for it,
        ``normalize_embeddings``) scales each to length 1, after the model's own Normalize if any. ``prompt`` wins over
        ``prompt_name``; ``prompt=""`` is no prompt, also for a model with a default one. A progress bar shows for more
        than 10 batches unless ``show_progress_bar`` says otherwise."""
        normalize = normalize_flag(normalize, normalize_embeddings, convert_to_numpy)
        return encode_sentences(self, sentences, batch_size, normalize, prompt_name, prompt, show_progress_bar)

    def tokenize_sentences(self, texts: list, max_length: int) -> dict:
        texts = prepare(self.pipeline, texts)
        with self._lock:
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                                 return_attention_mask=True, return_token_type_ids=self.family.token_types)
        keys = ("input_ids", "attention_mask") + (("token_type_ids",) if self.family.token_types else ())
        return {k: np.asarray(enc[k], dtype=np.int64) for k in keys}

    def embed(self, feed: dict, pooling_mask: np.ndarray) -> np.ndarray:
        import paddle

        from ..loading import dygraph_here

        dygraph_here()
        with paddle.no_grad():
            out = self.model(**{k: paddle.to_tensor(v) for k, v in feed.items()}, return_dict=True)
            vectors = self.head(out.last_hidden_state.astype(self._dtype), paddle.to_tensor(pooling_mask))
        return vectors.numpy()

    def encode_float64(self, sentences, prompt_name=None, batch_size=4) -> np.ndarray:
        """``encode`` with the model and pipeline cast to float64 for the call (float32 -> float64 -> float32 is
        exact): the reference verification judges float32 noise against. Not for use alongside other calls."""
        self.model.to(dtype="float64")
        self.head.to(dtype="float64")
        self._dtype = "float64"
        try:
            return self.encode(sentences, batch_size=batch_size, prompt_name=prompt_name, show_progress_bar=False)
        finally:
            self.model.to(dtype="float32")
            self.head.to(dtype="float32")
            self._dtype = "float32"

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pairwise similarity of two sets of embeddings, by the model's ``similarity_fn_name`` (cosine by default;
        dot, euclidean and manhattan as negative distances, as sentence-transformers)."""
        return similarity(self.pipeline, a, b)


def similarity(pipeline: Pipeline, a, b) -> np.ndarray:
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    fn = pipeline.similarity_fn_name or "cosine"
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
