"""The pipeline: resolve -> read lazily -> map by the family's table -> write -> rename into place."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .errors import ConversionError
from .model_card import write_model_card
from .output_dir import building, check_output, write_json, write_marker
from .paddle_config import paddle_config
from .plan import Plan, make_plan
from .signals import pause_point
from .source import resolve
from .tensors import FLOAT_DTYPES, Checkpoint
from .tokenizer_checks import check_tokenizer_files
from .tokenizer_files import write_tokenizer
from .tokenizer_kind import tokenizer_kind
from .tokenizer_vocab import tokenizer_pad_id
from .writers import WRITERS


@dataclass
class Result:
    path: str
    plan: Plan
    weights_file: str
    verify_report: dict | None = None


def convert(src, out, **options) -> str:
    """Convert the Hugging Face model directory ``src`` into a PaddleNLP directory ``out``.

    Options: format ("safetensors" | "pdparams"), dtype ("float32" | "float16" | "bfloat16"),
    num_choices, overwrite, family ("bert" | "roberta" | "xlm-roberta"), head (a class the tensors hold, e.g.
    "BertForPreTraining", instead of the one config.json names), progress (a line per stage and a
    bar while converting, on stderr: the command line turns it on when stderr is a terminal),
    verify (run ``verify`` on the result before it is moved into place: None, the default, whenever
    torch, transformers and paddlenlp are installed, with a note in the plan when they are not;
    True to insist; False to skip, as ``--no-verify`` does; half-precision outputs are compared
    as float32 on the rounded weights), weights (the weights file to read when ``src`` holds two formats
    that differ; when they are the same, safetensors is read and the summary says so).
    Returns the output path. Raises ``ConversionError`` (one line naming the file or tensor)
    on bad input or a failed verification; on any failure nothing is left at ``out``.
    """
    return convert_with_report(src, out, **options).path


def convert_with_report(src, out, *, format="safetensors", dtype="float32", num_choices=2, overwrite=False, family=None, head=None,
                        progress=False, expect=None, verify=None, atol=1e-5, weights=None) -> Result:
    """``convert``, returning the plan too. ``expect(plan)`` may raise ConversionError before anything is written."""
    if format not in WRITERS:
        raise ConversionError(f"format {format!r} is not one of {', '.join(WRITERS)}")
    if dtype not in FLOAT_DTYPES:
        raise ConversionError(f"dtype {dtype!r} is not one of {', '.join(FLOAT_DTYPES)}")
    if not isinstance(num_choices, int) or num_choices < 1:
        raise ConversionError(f"num_choices must be a positive integer, got {num_choices!r}")
    verify, not_verified = verify_policy(verify)
    out = os.path.abspath(os.fspath(out))
    if os.path.lexists(out) and not overwrite:
        raise ConversionError(f"{out}: already exists (pass --overwrite to replace it)")

    say = _stage_printer(progress)
    source = resolve(src, weights)
    check_output(out, source.path, overwrite)
    say(f"reading {source.path} ({source.weight_format})")
    pause_point("reading")
    config_path = os.path.join(source.path, "config.json")
    with Checkpoint(source.weight_files) as ckpt:
        plan = make_plan(source.config, {n: ckpt.shape(n) for n in ckpt.names()}, tokenizer_kind(source.path), family, config_path, head)
        plan.notes[:0] = source.notes
        if expect is not None:
            expect(plan)
        check_tokenizer_files(source.path, plan.dims["V"])
        pad_token_id = tokenizer_pad_id(source.path, plan, source.config, config_path)
        if not_verified:
            plan.notes.append(f"not verified: {not_verified}")
        with building(out, overwrite) as tmp:
            weights_name, writer_cls = WRITERS[format]
            say(f"converting {len(plan.entries)} tensors to {plan.paddle_class} ({format}, {dtype})")
            pause_point("converting")
            _write_weights(ckpt, plan, writer_cls, os.path.join(tmp, weights_name), FLOAT_DTYPES[dtype], progress)
            config = paddle_config(source.config, plan, dtype, num_choices, os.path.abspath(source.path), pad_token_id)
            write_json(os.path.join(tmp, "config.json"), config)
            positions = plan.family.positions(plan.dims["P"], config["pad_token_id"])
            tokenizer_class = write_tokenizer(source.path, tmp, model_max_length=positions)
            if verify:
                say("verifying against the torch original (transformers vs PaddleNLP)")
            report = verified(source.path, tmp, out, atol, weights=source.weights_path) if verify else None
            pause_point("verifying")
            given = os.fspath(src)
            write_model_card(tmp, out, given, plan.paddle_class, tokenizer_class, report and report["text"], dtype)
            write_marker(tmp, given, plan.paddle_class)  # last: it lists the files above with their sha256
            pause_point("writing")
    return Result(out, plan, os.path.join(out, weights_name), report)


# transformers' from_pretrained swaps global torch state while it builds a model (meta-device
# initialisation): two at once in one process leave later models on the meta device.
_VERIFY_LOCK = threading.Lock()


def _stage_printer(progress: bool):
    def say(line: str):
        if progress:
            print(f"paddle-roberta: {line}", file=sys.stderr, flush=True)
    return say


def verified(hf_dir: str, paddle_dir: str, out: str, atol: float, weights=None) -> dict:
    """``verify`` of a finished temporary directory (the PaddleNLP one here, the Hugging Face one for
    ``export``), its text under "text"; raises naming ``out`` if it failed or could not run."""
    from .verify import failures, format_report, verify

    try:
        with _VERIFY_LOCK:
            report = verify(hf_dir, paddle_dir, atol=atol, weights=weights)
    except ConversionError:
        raise
    except Exception as e:  # the source loads for conversion but not in transformers / PaddleNLP
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ConversionError(f"{out}: verification could not run ({type(e).__name__}: {first}); nothing written") from e
    report["text"] = format_report(report)
    if not report["ok"]:
        raise ConversionError(f"{out}: verification failed ({', '.join(failures(report))}); nothing written", report["text"])
    return report


def verify_policy(verify) -> tuple:
    """(run verify?, why not) for ``verify`` True (required), False (off) or None (whenever it can run)."""
    if verify is False:
        return False, ""
    why = "" if libraries_for_verify() else "torch, transformers or paddlenlp is not installed"
    if why and verify:
        raise ConversionError(f"cannot verify: {why} (pass verify=False to convert unverified)")
    return not why, why


def libraries_for_verify() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "paddle", "paddlenlp"))


def _write_weights(ckpt: Checkpoint, plan: Plan, writer_cls, path: str, dtype: np.dtype, progress: bool):
    specs = [(e.dst, dtype, e.shape) for e in plan.entries]
    writer = writer_cls(path, specs, {"format": "np"})
    entries = plan.entries
    if progress:
        from tqdm import tqdm

        entries = tqdm(entries, desc="converting", unit="tensor", leave=False)
    try:
        for e in entries:
            for block in _blocks(ckpt, e, dtype):
                writer.write(e.dst, block)
    except BaseException:
        writer.abort()  # the caller removes the temporary directory
        raise
    writer.close()


# Tensors larger than this that need no transpose are converted a block of rows at a time, so that
# memory stays near this size even for XLM-R's 733 MiB word embedding (250002 x 768 float32).
BLOCK_BYTES = 32 * 2**20


def _blocks(ckpt: Checkpoint, e, dtype):
    """The converted value of one entry, as blocks of rows of its first axis (one block unless large)."""
    if e.synthesized:
        yield np.zeros(e.shape, dtype=dtype)
        return
    shape = ckpt.shape(e.srcs[0])  # at least 1-D: the plan checked it against the table
    n, row_bytes = shape[0], int(np.prod(shape[1:], dtype=np.int64)) * 4
    step = n if e.transpose else max(1, BLOCK_BYTES // max(1, row_bytes))  # a transpose needs the whole matrix
    for start in range(0, max(n, 1), step):
        rows = None if step >= n else (start, min(start + step, n))
        first = ckpt.read(e.srcs[0], rows)
        for other in e.srcs[1:]:  # tied in the checkpoint and in PaddleNLP: must be one value
            if not np.array_equal(first, ckpt.read(other, rows), equal_nan=True):  # a NaN is reported below
                raise ConversionError(
                    f"tensor {other} differs from {e.srcs[0]}, but PaddleNLP ties them in {e.dst}: this checkpoint cannot be expressed"
                )
        if not np.isfinite(first.astype(np.float32, copy=False)).all():
            raise ConversionError(f"{ckpt.file(e.srcs[0])}: tensor {e.srcs[0]} holds NaN or Inf")
        value = transpose(first) if e.transpose else first
        # float -> float casts: upcasts are exact; downcasts round to nearest even, as torch's .to() does
        yield np.ascontiguousarray(value.astype(dtype, copy=False))


def transpose(a: np.ndarray, block: int = 128) -> np.ndarray:
    """``a.T`` made contiguous, tile by tile.

    Hand-written because numpy's copy of a transposed view walks one side with a stride of a
    whole row and misses the cache: 0.5 GB/s for a 4096 x 1024 float32 matrix here, against
    1 GB/s for 128 x 128 tiles, which halves conversion time for a 1.3 GB checkpoint.
    """
    rows, cols = a.shape
    out = np.empty((cols, rows), dtype=a.dtype)
    for i in range(0, rows, block):
        for j in range(0, cols, block):
            out[j : j + block, i : i + block] = a[i : i + block, j : j + block].T
    return out
