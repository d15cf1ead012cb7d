"""Run a model exported with ``paddle-roberta export --to inference`` through Paddle Inference.

    from paddle_roberta.serving import Predictor
    predictor = Predictor("served/")                     # oneDNN on, 2 CPU threads
    outputs = predictor(["中国的首都是北京。", "Hello world"])  # {"logits": array, ...}
    outputs = predictor("one text")                      # a batch of one

Needs paddlepaddle only (and paddlenlp for text input: the tokenizer beside the model). ``inference.json``
beside the model names its inputs (name, dtype, rank) and outputs, in order.

One Predictor may be shared by any number of threads (a threaded web server). The paddle.inference
predictor underneath is not thread-safe (its input and output handles are shared: concurrent calls return
each other's results), so every run is handed to one worker thread of the Predictor's, one at a time;
tokenizing stays on the caller's thread. A lock would be as safe, but oneDNN keeps its weight copies per
calling thread: a distilroberta-base-sized classifier took 3.3 GB from 4 server threads and 6.0 GB from 8
under a lock, 1.3 GB with the worker thread, and 4.6 / 8.5 GB with one ``predictor.clone()`` per thread.
At 4 threads the three served the same requests/s within the noise of a shared 2-core machine
(bench/bench_predictor_threads.py, bench/predictor-threads-2026-11-25.md).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ConversionError
from ..sentence.encoder import encode_sentences, normalize_flag, prepare
from ..sentence.modules import pipeline_from_json
from .buckets import DEFAULT_STEP, bucket_for, bucket_lengths, pad_feed
from .precision import check_precision

INFERENCE_JSON = "inference.json"
ENGINES = ("paddle", "onnxruntime")
# oneDNN's per-shape kernel cache, capped: chosen from bench/bench_serving_memory.py's sweep (see bench/README.md)
CACHE_CAPACITY = 1


class Predictor:
    def __init__(self, path: str, threads: int = 2, mkldnn: bool = True, buckets=DEFAULT_STEP, predictor=None,
                 tokenizer=None, cache_capacity: int | None = CACHE_CAPACITY, precision: str | None = None,
                 engine: str | None = None):
        """``buckets``: pad every batch to a multiple of this many tokens (``buckets.DEFAULT_STEP``), or to the
        shortest of these lengths that holds it (a sequence), or not at all (None or 0): see ``buckets``.
        ``cache_capacity``: how many input shapes oneDNN keeps prepared kernels for (``CACHE_CAPACITY``; None or 0:
        every shape it meets, which grows with each batch size × length; the paddle engine with oneDNN only).
        ``precision``: "float32", "bfloat16" (``serving.precision``: CPUs with AVX512-BF16 or AMX only) or "int8" (an
        ONNX export made with ``--quantize int8``); default: the one the export was made and verified at (``export
        --precision`` / ``--quantize``). ``engine``: "paddle" (Paddle Inference) or "onnxruntime"; default: the
        export's (``export --to onnx`` writes an ONNX model, which only onnxruntime runs).
        ``predictor``: a paddle.inference predictor already made for this model (PaddleNLP's SimpleServer makes
        its own), used instead of making one; ``tokenizer``: a PaddleNLP tokenizer already loaded from ``path``."""
        self.path = os.fspath(path)
        spec_path = os.path.join(self.path, INFERENCE_JSON)
        if not os.path.isdir(self.path):
            raise ConversionError(f"{self.path}: no such directory; give the folder `paddle-roberta export DIR DEST "
                                  "--to inference` (or --to onnx) wrote")
        if not os.path.isfile(spec_path):
            raise ConversionError(f"{spec_path}: not found, so {self.path} is not a Paddle Inference or ONNX export; "
                                  f"run `paddle-roberta export DIR DEST --to inference` (or --to onnx) and load DEST")
        with open(spec_path, encoding="utf-8") as f:
            self.spec = json.load(f)
        with open(os.path.join(self.path, "config.json"), encoding="utf-8") as f:
            self.pad_token_id = json.load(f).get("pad_token_id") or 0
        if not buckets:
            self.buckets = ()
        elif isinstance(buckets, int):
            self.buckets = bucket_lengths(self.spec["max_length"], buckets)
        else:
            self.buckets = tuple(sorted(int(b) for b in buckets))
            if not self.buckets or self.buckets[0] < 1:
                raise ValueError(f"buckets must be positive lengths, not {list(buckets)}")
        self.threads, made = threads, self.spec.get("engine", "paddle")
        self.engine = engine or made
        if self.engine not in ENGINES:
            raise ConversionError(f"engine {self.engine!r}: choose one of {', '.join(ENGINES)}")
        if self.engine != made:
            again = "onnx" if self.engine == "onnxruntime" else "inference"
            raise ConversionError(f"{self.path}: an export for the {made} engine, not {self.engine}: leave engine out, "
                                  f"or export the PaddleNLP directory again with --to {again}")
        self.precision = check_precision(precision or self.spec.get("precision", "float32"))
        if self.precision == "bfloat16" and self.engine != "paddle":
            raise ConversionError(f"{self.path}: an ONNX export; bfloat16 runs through Paddle Inference's oneDNN: "
                                  "export with --to inference (--precision bfloat16)")
        if self.precision == "bfloat16" and not mkldnn:
            raise ConversionError("precision bfloat16 runs through oneDNN: leave mkldnn on")
        self.cache_capacity = cache_capacity if self.engine == "paddle" and mkldnn else None
        model_file = self.spec["model_file"]
        if self.precision == "int8" and self.spec.get("precision") != "int8":
            raise ConversionError(f"{self.path}: no int8 model here: export with --to onnx --quantize int8")
        if self.precision == "float32" and self.spec.get("precision") == "int8":
            model_file = self.spec["float32_model_file"]  # an int8 export keeps its float32 model beside it
        if predictor is None and self.engine == "onnxruntime":
            predictor = _onnx_session(os.path.join(self.path, model_file), threads)
        elif predictor is None:
            with warnings.catch_warnings():  # paddle's import warns that ccache is missing: a compiler's concern
                warnings.simplefilter("ignore")
                from paddle import inference

            config = inference.Config(os.path.join(self.path, self.spec["model_file"]),
                                      os.path.join(self.path, self.spec["params_file"]))
            config.disable_gpu()
            config.disable_glog_info()  # before the calls below, which log at INFO
            config.set_cpu_math_library_num_threads(threads)
            if mkldnn:
                config.enable_mkldnn()
                if cache_capacity:
                    config.set_mkldnn_cache_capacity(int(cache_capacity))
                if self.precision == "bfloat16":
                    config.enable_mkldnn_bfloat16()
            else:
                config.disable_mkldnn()
            predictor = inference.create_predictor(config)
        self._predictor = predictor
        self._lock = threading.Lock()
        self._executor, self._worker_pid = None, None
        self._empty = None
        self._tokenizer = tokenizer
        self._tokenizer_lock = threading.Lock()
        # a sentence-transformers model: its pipeline (prompts, max_seq_length, lower-casing) is in the graph's spec
        self.pipeline = pipeline_from_json(self.spec["sentence"]) if self.spec.get("sentence") else None

    @property
    def paddle_predictor(self):
        """The paddle.inference predictor underneath (not thread-safe: ``run`` hands it to one thread); for the
        onnxruntime engine, its InferenceSession."""
        return self._predictor

    @property
    def description(self) -> str:
        """What runs the model, as reports name it."""
        if self.engine == "onnxruntime":
            weights = ", int8 weights" if self.precision == "int8" else ""
            return f"onnxruntime (ONNX opset {self.spec.get('opset')}{weights}, CPU, {self.threads} threads)"
        low = ", bfloat16" if self.precision == "bfloat16" else ""
        return f"Paddle Inference predictor (oneDNN{low}, {self.threads} threads)"

    @property
    def input_names(self) -> list:
        return [i["name"] for i in self.spec["inputs"]]

    @property
    def output_names(self) -> list:
        return list(self.spec["outputs"])

    def run(self, feed: dict) -> dict:
        """``feed``: input name -> numpy array (ids and masks as the model's inputs say); returns output name -> array.
        A causal LM exported from PaddleNLP's RobertaForCausalLM takes the 2-D 0/1 mask here too: the
        additive causal mask it needs is built from it (``spec["causal_mask"]``). A batch of 0 returns
        arrays with a 0 batch dimension. The batch is padded to its length bucket first (``buckets``); per-token
        outputs come back at the batch's own length."""
        if "pooling_mask" in self.input_names and "pooling_mask" not in feed:  # no prompt to leave out
            feed = dict(feed, pooling_mask=feed["attention_mask"])
        feed = {spec["name"]: np.asarray(feed[spec["name"]]) for spec in self.spec["inputs"]}
        length = feed["input_ids"].shape[-1]
        if all(feed[s["name"]].ndim == self._rank(s) for s in self.spec["inputs"]):  # not a ready-made 4-D causal mask
            feed = pad_feed(feed, bucket_for(length, self.buckets), self.pad_token_id)
        values = self._inputs(feed)
        if values[0].shape[0] == 0:
            return self.empty()
        out = self._worker().submit(self._run_on, self._predictor, values).result()
        for name in self.spec["per_token"]:
            if name in out:
                out[name] = np.ascontiguousarray(out[name][:, :length])
        return out

    def _rank(self, spec) -> int:
        """The rank ``run`` takes an input at: the 0/1 mask is 2-D even where the graph takes a causal one."""
        return 2 if spec["name"] == "attention_mask" and self.spec.get("causal_mask") else spec["rank"]

    def _worker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._worker_pid != os.getpid():  # a forked child has the executor but not its thread
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="paddle-roberta-predictor")
                self._worker_pid = os.getpid()
            return self._executor

    def _inputs(self, feed: dict) -> list:
        from ..parity.compare import causal_additive_mask

        values = []
        for spec in self.spec["inputs"]:
            value = np.asarray(feed[spec["name"]])
            if spec["name"] == "attention_mask" and self.spec.get("causal_mask") and value.ndim == 2:
                value = causal_additive_mask(value)
            values.append(np.ascontiguousarray(value.astype(spec["dtype"])))
        return values

    def _run_on(self, predictor, values: list) -> dict:
        if self.engine == "onnxruntime":
            return dict(zip(self.output_names, predictor.run(self.output_names, dict(zip(self.input_names, values)))))
        for spec, value in zip(self.spec["inputs"], values):
            predictor.get_input_handle(spec["name"]).copy_from_cpu(value)
        predictor.run()
        handles = predictor.get_output_names()
        return {name: predictor.get_output_handle(h).copy_to_cpu() for name, h in zip(self.output_names, handles)}

    def empty(self) -> dict:
        """The outputs of a batch of 0 texts: each output's array with 0 for its batch dimension (and for the
        sequence, per-token outputs), its other dimensions and dtype as the model gives them. The graph's
        handles do not say those before a run, so they come from one run on a single token, once."""
        if self._empty is None:
            shape = (1, 1)
            if self.spec["rank"] == 3:  # PaddleNLP's multiple-choice heads reshape to [-1, num_choices]
                with open(os.path.join(self.path, "config.json"), encoding="utf-8") as f:
                    shape = (1, json.load(f).get("num_choices") or 2, 1)
            out = self.run({i["name"]: np.ones(shape, np.int64) for i in self.spec["inputs"]})
            self._empty = {name: np.zeros((0,) + tuple(0 if d == 1 and name in self.spec["per_token"]
                                                       else value.shape[d]
                                                       for d in range(1, value.ndim)), value.dtype)
                           for name, value in out.items()}
        return {name: value.copy() for name, value in self._empty.items()}

    @property
    def tokenizer(self):
        """PaddleNLP's tokenizer beside the model, loaded on first use."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                with warnings.catch_warnings():  # paddle's and setuptools' import-time warnings are not the user's
                    warnings.simplefilter("ignore")
                    import paddlenlp.transformers as pt

                self._tokenizer = pt.AutoTokenizer.from_pretrained(self.path)
            return self._tokenizer

    def tokenize(self, texts, text_pairs=None, max_length=None) -> dict:
        """The model's inputs for ``texts`` (a string, or a list of strings; for multiple choice, a list of lists
        of choices), padded, with the tokenizer beside the model. ``max_length`` past the model's positions
        (``spec["max_length"]``) is clamped to them, with a warning. A sentence-transformers model's texts are
        stripped (and lower-cased where it says so) and cut at its ``max_seq_length``, as it tokenizes them."""
        self.tokenizer  # noqa: B018 -- loaded
        if self.pipeline is not None:
            texts = prepare(self.pipeline, [texts] if isinstance(texts, str) else texts)
            max_length = min(max_length or self.pipeline.max_seq_length, self.pipeline.max_seq_length)
        choices = self.spec["rank"] == 3
        if isinstance(texts, str):  # one text, not a list of characters
            texts = [texts]
        if isinstance(text_pairs, str):
            text_pairs = [text_pairs]
        if choices and any(isinstance(group, str) for group in texts):
            raise TypeError("a multiple-choice model takes a list of lists of choices (one list per question)")
        if not choices and any(not isinstance(t, str) for t in texts):
            raise TypeError("texts must be a string or a list of strings (lists of choices are for "
                            "multiple-choice models)")
        flat = [t for group in texts for t in group] if choices else list(texts)
        pairs = None
        if text_pairs is not None:
            pairs = [t for group in text_pairs for t in group] if choices else list(text_pairs)
        limit = self.spec["max_length"]
        if max_length is not None and max_length > limit:
            # longer inputs would index past the position table: the model cannot read them
            warnings.warn(f"max_length {max_length} is past the model's {limit} positions; clamped to {limit}",
                          stacklevel=3)
        limit = min(max_length or limit, limit)
        room = self.tokenizer.num_special_tokens_to_add(pair=pairs is not None) + (1 if pairs is None else 2)
        if limit < room:  # PaddleNLP's tokenizer would log an error and return the text untruncated
            raise ValueError(f"max_length {limit} leaves no room for the text: at least {room} (special tokens and "
                             "one token of each text)")
        if not flat:
            return {name: np.zeros((0,) * i["rank"], dtype=np.int64) for name,
                    i in zip(self.input_names, self.spec["inputs"])}
        enc = self.tokenizer(flat, pairs, padding=True, truncation=True, max_length=limit, return_attention_mask=True)
        feed = {name: np.asarray(enc[name], dtype=np.int64) for name in self.input_names if name in enc}
        if "token_type_ids" in self.input_names and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        if choices:
            n = len(texts[0])
            feed = {k: v.reshape(len(texts), n, -1) for k, v in feed.items()}
        return feed

    def __call__(self, texts, text_pairs=None, max_length=None) -> dict:
        if self.pipeline is not None:  # prompts and batching as sentence-transformers: encode
            return {"sentence_embedding": self.encode(texts, max_length=max_length)}
        return self.run(self.tokenize(texts, text_pairs, max_length))

    # --- a sentence-transformers model's export: its embeddings as SentenceEncoder and sentence-transformers give them

    def encode(self, sentences, batch_size: int = 32, normalize: bool = False, prompt_name: str | None = None,
               prompt: str | None = None, show_progress_bar: bool | None = None, max_length=None,
               normalize_embeddings: bool | None = None, convert_to_numpy: bool = True):
        """As ``paddle_roberta.SentenceEncoder.encode`` (the pooling, Dense and Normalize run inside the graph);
        ``max_length`` cuts shorter than the model's ``max_seq_length``."""
        if self.pipeline is None:
            raise ConversionError(f"{self.path}: not a sentence-transformers model's export: encode gives sentence "
                                  "embeddings only for those (call the predictor for this model's outputs)")
        normalize = normalize_flag(normalize, normalize_embeddings, convert_to_numpy)
        return encode_sentences(self, sentences, batch_size, normalize, prompt_name, prompt, show_progress_bar,
                                max_length)

    @property
    def special_ids(self) -> set:
        return set(self.tokenizer.all_special_ids)

    def tokenize_sentences(self, texts, max_length) -> dict:
        return self.tokenize(texts, None, max_length)

    def embed(self, feed, pooling_mask):
        return self.run(dict(feed, pooling_mask=pooling_mask))["sentence_embedding"]


def _onnx_session(path: str, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3  # errors only: its load-time warnings (graph clean-ups) are not the user's concern
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
