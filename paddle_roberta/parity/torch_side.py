"""Verification's torch side — transformers' tokenizer and model on the source — in this process or in a helper.

Importing torch + transformers and paddle + paddlenlp one after the other is most of a conversion's time
(a 1 MB model took 13-16 s, nearly all imports); importing them from two threads of one process crashed.
``convert`` therefore starts ``TorchProcess`` first thing (unless transformers is imported in its process
already: then there is nothing to overlap, and ``TorchSide`` runs there): a fresh interpreter (``python -m
paddle_roberta.parity.torch_side``) imports torch and transformers and loads the source's model while the
parent converts and loads the Paddle side. Both implement ``call(name, **args)`` over ``TorchSide``'s methods,
so ``verify`` runs the same code either way.

The pipe carries JSON and numpy arrays only (``np.load(allow_pickle=False)``): no pickle crosses it. The helper
exits when its stdin closes (the parent finished, failed or died), so it never outlives a conversion.
"""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import subprocess
import sys
import threading
from contextlib import contextmanager

import numpy as np

from ..errors import ConversionError
from ..families.tables import family_and_head, hf_class_for
from ..files.weight_files import HF_FORMATS, choose, in_folder
from ..tokenizer.kind import KINDS, not_written, tokenizer_kind


def torch_model_args(src, paddle_class, weights, dtype) -> dict:
    """``load``'s arguments: the source's transformers class for ``paddle_class``, read from the weights file
    ``verify`` picks (``weights``: a file or several of ``src``, as ``verify`` takes it), in ``dtype``."""
    chosen = [os.fspath(weights)] if isinstance(weights, (str, os.PathLike)) else [os.fspath(w) for w in weights or ()]
    hf_weights = (choose(src, HF_FORMATS, in_folder(src, chosen)) or ("", ""))[0]
    head = family_and_head(paddle_class)[1]
    # a causal LM attends to earlier tokens only in transformers when is_decoder is set (a source config may lack it)
    return {"src": os.path.abspath(src), "hf_class": hf_class_for(paddle_class), "dtype": dtype,
            "use_safetensors": ".safetensors" in os.path.basename(hf_weights or ""),
            "is_decoder": head == "ForCausalLM"}


class TorchSide:
    """The torch half of ``verify``: one source's tokenizer and model, loaded once, answering by method name."""

    def __init__(self):
        self.model = self.tok = self.sentence = None
        self.model_key = self.tok_key = self.sentence_key = None

    def call(self, name: str, **args):
        return getattr(self, name)(**args)

    def send(self, name: str, **args):
        """In this process nothing runs alongside: the call is made when ``verify`` asks for it, under its lock
        (transformers' from_pretrained is not safe from two threads at once: models end on the meta device)."""

    def close(self):
        self.model = self.tok = self.sentence = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def load(self, src, hf_class, use_safetensors, is_decoder, dtype):
        """transformers' ``hf_class`` from ``src``; half precision as float32 on the rounded weights."""
        key = (src, hf_class, use_safetensors, is_decoder, dtype)
        if self.model_key != key:
            import transformers

            self.model = getattr(transformers, hf_class).from_pretrained(
                src, use_safetensors=use_safetensors, **({"is_decoder": True} if is_decoder else {})).eval()
            if dtype != "float32":
                import torch

                # half-precision output: both sides run float32 on the same rounded weights (torch rounds to
                # nearest even, as the conversion does), so the 1e-5 bar still measures the conversion alone
                self.model = self.model.to(getattr(torch, dtype)).float()
            self.model_key = key
        cfg = self.model.config
        return {"torch_class": type(self.model).__name__, "max_position_embeddings": cfg.max_position_embeddings,
                "pad_token_id": cfg.pad_token_id}

    def tokenizer(self, src, family):
        """Loads transformers' tokenizer of ``src`` (None: it has none); what verify needs to know of it."""
        if self.tok_key != (src, family):
            self.tok, self.tok_key = hf_tokenizer(src, family), (src, family)
        tok = self.tok
        if tok is None:
            return None
        token_texts, pad_texts = token_sentences(tok, family)
        return {"class": type(tok).__name__, "mask_token": tok.mask_token, "size": len(tok),
                "added": sum(1 for i in tok.added_tokens_decoder if i >= tok.vocab_size),
                "token_texts": token_texts, "pad_texts": pad_texts}

    def ids(self, texts):
        return [self.tok(t)["input_ids"] for t in texts]

    def slow_ids(self, src, texts):
        slow = slow_tokenizer(src, type(self.tok))
        return [slow(t)["input_ids"] for t in texts]

    def encode(self, texts, limit, keys):
        batch = self.tok(texts, padding=True, truncation=True, max_length=limit, return_tensors="np")
        return {k: batch[k].astype(np.int64) for k in keys if k in batch}

    def run(self, inputs):
        from . import compare

        return compare.run_torch(self.model, inputs)

    def sentence_encode(self, src, texts, prompt_name, dtype, precision="float32", max_seq_length=None):
        """sentence-transformers' own ``encode`` of ``texts`` with the model at ``src`` (half precision: as float32 on
        the rounded weights, as ``load``), in float32 or float64 (``sentence.reference_embeddings``); ``max_seq_length``
        where its own is past the model's positions (it would fail on longer texts)."""
        if self.sentence_key != (src, dtype):
            import torch
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(src, device="cpu", local_files_only=True)
            if dtype != "float32":
                model = model.to(getattr(torch, dtype)).float()
            self.sentence, self.sentence_key = model.eval(), (src, dtype)
        from .sentence import reference_embeddings

        if max_seq_length is not None:
            self.sentence.max_seq_length = max_seq_length
        return reference_embeddings(self.sentence, texts, precision, prompt_name=prompt_name)

    def fill_mask(self, texts, key, token_types, limit):
        """For each text, the top-5 tokens at each of its masks (the torch half of ``verify._fill_mask``)."""
        from . import compare

        result = []
        for text in texts:
            enc = self.tok(text, return_token_type_ids=token_types, truncation=True, max_length=limit)
            inputs = {k: np.asarray([enc[k]], dtype=np.int64) for k in ("input_ids", "token_type_ids") if k in enc}
            inputs["attention_mask"] = np.ones_like(inputs["input_ids"])
            logits = compare.run_torch(self.model, inputs)[key][0]
            positions = np.where(inputs["input_ids"][0] == self.tok.mask_token_id)[0]
            result.append([[compare.token_name(self.tok, int(i)) for i in np.argsort(-logits[p])[:5]]
                           for p in positions])
        return result


def token_sentences(hf_tok, family) -> tuple:
    """Every added and every special token of the source's tokenizer in sentences, with and without spaces
    around it (an added token's lstrip/rstrip decides what happens to them), eight tokens to a sentence:
    ``(for the model, for the tokenizers only)`` — a literal pad token mid-text is a pad id, which
    PaddleNLP's default mask hides, so the sentences with it only compare ids."""
    words = {"bert": ("今天", "很好"), "xlm-roberta": ("Today", "très bien")}.get(family, ("Today", "is fine"))
    tokens = [t.content for i, t in sorted(hf_tok.added_tokens_decoder.items())]
    tokens += [t for t in hf_tok.all_special_tokens if t not in tokens]

    def sentences(group):
        return [f"{words[0]} " + " ".join(f"{t} {words[1]}" for t in group) + ".",
                "".join(f"{words[0]}{t}" for t in group) + f" {words[1]}"]

    plain = [t for t in tokens if t != hf_tok.pad_token]
    for_model = [s for start in range(0, len(plain), 8) for s in sentences(plain[start:start + 8])]
    # other spellings of the added tokens: an added token's `normalized` flag decides whether they match it
    added = [t.content for i, t in sorted(hf_tok.added_tokens_decoder.items()) if i >= hf_tok.vocab_size]
    variants = [v for t in added for v in dict.fromkeys((t.lower(), t.upper(), t.capitalize())) if v != t]
    for_model += [f"{words[0]} " + " ".join(variants[start:start + 8]) + "." for start in range(0, len(variants), 8)]
    return for_model, sentences([hf_tok.pad_token]) if hf_tok.pad_token in tokens else []




def hf_tokenizer(src, family):
    """transformers' fast tokenizer of the kind ``src`` holds (what AutoTokenizer gives); None when it has none."""
    import transformers

    kind = tokenizer_kind(src)
    if kind in KINDS:
        cls = getattr(transformers, KINDS[kind].hf_class + "Fast")  # a tokenizer.json alone: the fast class reads it
    elif kind is None:
        return None  # no tokenizer at all: random ids, and the report says so
    else:
        cls = transformers.AutoTokenizer
    try:
        return cls.from_pretrained(src)
    except Exception as e:  # present but unusable is an error, never "none in the source"
        if not_written(kind):
            return None  # a kind no PaddleNLP class expresses (the output has none either): the report says which
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ConversionError(f"{src}: its tokenizer does not load in transformers "
                              f"({type(e).__name__}: {first})") from None


@functools.lru_cache(maxsize=1)
def slow_tokenizer(src, fast_cls):
    """transformers' slow tokenizer of the fast class ``fast_cls``, for ``src`` (the last one kept)."""
    import transformers

    return getattr(transformers, fast_cls.__name__.removesuffix("Fast")).from_pretrained(src)


# --- the pipe: a message is two lengths, JSON, then an .npz of the arrays the JSON refers to by number. Written by
# hand: multiprocessing's connections pickle, and a pickle from the pipe must never be loaded.

def _pack(value) -> bytes:
    arrays = []

    def strip(v):
        if isinstance(v, np.ndarray):
            arrays.append(v)
            return {"__array__": len(arrays) - 1}
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        if isinstance(v, np.generic):
            return v.item()
        return v

    head = json.dumps(strip(value)).encode()
    blob = io.BytesIO()
    np.savez(blob, *arrays)
    body = blob.getvalue()
    return struct.pack("<QQ", len(head), len(body)) + head + body


def _unpack(read) -> object:
    sizes = read(16)
    if len(sizes) < 16:
        raise EOFError
    n_head, n_body = struct.unpack("<QQ", sizes)
    head, body = json.loads(read(n_head)), read(n_body)
    with np.load(io.BytesIO(body), allow_pickle=False) as npz:
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]

    def fill(v):
        if isinstance(v, dict):
            return arrays[v["__array__"]] if set(v) == {"__array__"} else {k: fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v

    return fill(head)


class HelperFailed(Exception):
    """An exception raised in the helper, by its type's name and message."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class TorchProcess:
    """``TorchSide`` in a helper process. ``send`` queues a call without waiting (the model loads while the
    parent converts); ``call`` returns its answer, after reading those of the calls queued before it."""

    def __init__(self):
        env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false")
        self.proc = subprocess.Popen([sys.executable, "-m", "paddle_roberta.parity.torch_side"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.pending = 0

    def send(self, name: str, **args):
        self.proc.stdin.write(_pack({"call": name, "args": args}))
        self.proc.stdin.flush()
        self.pending += 1

    def call(self, name: str, **args):
        self.send(name, **args)
        answers = []
        while self.pending:
            try:
                answers.append(_unpack(self.proc.stdout.read))
            except (EOFError, struct.error, ValueError):
                self.pending = 0
                raise RuntimeError(f"the verification helper process stopped (exit code {self.proc.poll()})") from None
            self.pending -= 1
        failed = next((a["error"] for a in answers if "error" in a), None)  # the first: later calls depend on it
        if failed:
            kind, message = failed
            if kind == "ConversionError":
                raise ConversionError(message)
            # named as raised: "verification could not run (OSError: ...)"
            raise type(kind, (HelperFailed,), {})(kind, message)
        return answers[-1]["value"]

    def close(self):
        """Ends the helper at once: it holds nothing to save, and torch's own exit takes a second."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_STARTED = []  # helpers started ahead of the conversion that will use them (the command line's)
_IDLE = []  # at most one helper kept between conversions of this process, with its idle timer
_LOCK = threading.Lock()
IDLE_SECONDS = 300  # a kept helper ends after this long unused (or at exit)


def start_early() -> None:
    """Start a helper now for the next ``convert`` of this process: the command line does, before it imports paddle
    (the helper's torch import then overlaps paddle's too). Left unused, it is closed at exit."""
    with _LOCK:
        if not _STARTED:
            _STARTED.append(TorchProcess())
            _close_at_exit()


@contextmanager
def helper():
    """The torch side for one conversion: the helper ``start_early`` started, or the one the last conversion of this
    process left (its imports and loaded model reused: a second conversion pays neither), else a new one; this
    process's own ``TorchSide`` where transformers is imported here already (a notebook, a training script, the
    tests): nothing left to overlap. A helper is kept afterwards for the next conversion (one at a time; conversions
    running at once each get their own), ended after ``IDLE_SECONDS`` unused or at exit."""
    if "transformers" in sys.modules:
        with TorchSide() as side:
            yield side
        return
    with _LOCK:
        side = None
        if _STARTED:
            side = _STARTED.pop()
        elif _IDLE:
            side, timer = _IDLE.pop()
            timer.cancel()  # in use again: its idle time starts over when it is given back
        if side is not None and side.proc.poll() is not None:
            side = None  # it died meanwhile
    if side is None:
        side = TorchProcess()
    kept = False
    try:
        yield side
        kept = side.pending == 0 and side.proc.poll() is None
    finally:
        with _LOCK:
            if kept and not _IDLE:
                timer = threading.Timer(IDLE_SECONDS, _end_idle, args=(side,))
                timer.daemon = True
                _IDLE.append((side, timer))
                _close_at_exit()
                timer.start()
            else:
                side.close()


def _end_idle(side):
    """The idle timer: ends the helper if it is still the idle one (not taken by a conversion meanwhile)."""
    with _LOCK:
        if not (_IDLE and _IDLE[0][0] is side):
            return
        _IDLE.pop()
    side.close()


_AT_EXIT = []


def _close_at_exit():
    if not _AT_EXIT:
        import atexit

        _AT_EXIT.append(True)
        atexit.register(lambda: [h.close() for h in _STARTED + [s for s, _ in _IDLE]])


def main():
    """The helper: import torch and transformers at once, then answer calls until stdin closes."""
    import warnings

    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    import torch  # noqa: F401 -- the point: imported while the parent converts
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # transformers imports its model code lazily, 2.5 s for the first class: done now, before the first call
    from transformers import BertModel, PreTrainedTokenizerFast, RobertaModel, XLMRobertaModel  # noqa: F401

    side, read, write = TorchSide(), sys.stdin.buffer.read, sys.stdout.buffer
    while True:
        try:
            request = _unpack(read)
        except EOFError:
            return
        try:
            answer = {"value": side.call(request["call"], **request["args"])}
        except Exception as e:  # noqa: BLE001 -- sent back to the parent, which raises it
            answer = {"error": [type(e).__name__, (str(e).strip().splitlines() or [""])[0][:500]]}
        write.write(_pack(answer))
        write.flush()


if __name__ == "__main__":
    main()
