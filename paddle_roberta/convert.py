"""Hugging Face -> PaddleNLP: resolve the source -> plan from the family's table -> stream the tensors -> config and
tokenizer -> verify (the gate) -> rename into place."""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

from . import preflight
from .errors import ConversionError
from .events import reporter
from .families.config import paddle_config
from .families.plan import make_plan
from .files.model_card import Card, write_model_card
from .files.output_dir import building, check_output, write_json, write_marker
from .files.readers import FLOAT_DTYPES, Checkpoint
from .files.source import resolve
from .files.stream import write_weights
from .files.writers import WRITERS
from .parity.gate import verified, verify_policy
from .parity.torch_side import helper as torch_helper
from .parity.torch_side import torch_model_args
from .result import Result
from .sentence.files import write_paddle as write_sentence_files
from .sentence.modules import check_layout, is_sentence_transformers, missing_modules, read_source
from .tokenizer.checks import check_tokenizer_files
from .tokenizer.kind import not_written, tokenizer_kind
from .tokenizer.paddle_files import write_tokenizer
from .tokenizer.vocab import tokenizer_pad_id


@dataclass(frozen=True)
class Options:
    """``convert``'s keywords, checked once (``check``) and handed down whole."""

    format: str = "safetensors"
    dtype: str = "float32"
    num_choices: int = 2
    overwrite: bool = False
    family: str | None = None
    head: str | None = None
    progress: bool = False
    verify: bool | None = None
    atol: float = 1e-5
    weights: object = None
    expect: Callable | None = None
    on_stage: Callable | None = None

    def check(self):
        if self.format not in WRITERS:
            raise ConversionError(f"format {self.format!r} is not one of {', '.join(WRITERS)}")
        if self.dtype not in FLOAT_DTYPES:
            raise ConversionError(f"dtype {self.dtype!r} is not one of {', '.join(FLOAT_DTYPES)}")
        if not isinstance(self.num_choices, int) or self.num_choices < 1:
            raise ConversionError(f"num_choices must be a positive integer, got {self.num_choices!r}")


def convert(src, out, **options) -> Result:
    """Convert the Hugging Face model ``src`` (a directory or hub id) into a PaddleNLP directory ``out``.

    Keywords (``Options``): ``format`` "safetensors" | "pdparams"; ``dtype`` "float32" | "float16" | "bfloat16";
    ``num_choices`` for a multiple-choice head; ``overwrite`` replaces an output this tool wrote; ``family`` ("bert" |
    "roberta" | "xlm-roberta") and ``head`` (a class the tensors hold, e.g. "BertForPreTraining") override what
    config.json says; ``progress`` prints a line per stage and a bar on stderr (the command line turns it on when
    stderr is a terminal); ``on_stage(stage, detail)`` is called at each stage (``events``); ``verify`` runs ``verify``
    on the result before it is moved into place: None, the default, whenever torch, transformers and paddlenlp are
    installed (with a note when they are not), True to insist, False to skip (half-precision outputs are compared as
    float32 on the rounded weights); ``atol`` is its bar; ``weights`` is the weights file to read when ``src`` holds
    two formats that differ; ``expect(plan)`` may raise ConversionError before anything is written. Returns a
    ``Result``; raises ``ConversionError`` (one line naming the file or tensor) on bad input or a failed verification,
    and then nothing is left at ``out``.
    """
    opts = Options(**options)
    opts.check()
    out = os.path.abspath(os.fspath(out))
    preflight.convert(os.fspath(src), out, opts.overwrite, opts.head, opts.weights)
    verify, not_verified = verify_policy(opts.verify)
    # verification's torch side imports and loads in a helper process meanwhile (parity/torch_side.py)
    with torch_helper() if verify else nullcontext() as helper:
        return _convert(src, out, opts, not_verified, helper)


def _convert(src, out, opts: Options, not_verified: str, helper) -> Result:
    report_stage = reporter(opts.progress, opts.on_stage)
    format, dtype, head = opts.format, opts.dtype, opts.head
    if os.path.isdir(os.fspath(src)) and is_sentence_transformers(src):
        check_layout(os.fspath(src))
    source = resolve(src, opts.weights)
    check_output(out, source.path, opts.overwrite)
    report_stage("reading", f"reading {source.path} ({source.weight_format})")
    config_path = os.path.join(source.path, "config.json")
    sentence = is_sentence_transformers(source.path)
    missing = missing_modules(source.path) if sentence else []
    if missing:  # --head given (preflight refuses it otherwise): the transformer body alone
        sentence = False
        source.notes.append(f"sentence-transformers model whose {missing[0]}: the transformer body alone converted "
                            "(token states, not sentence embeddings)")
    if sentence and head is None:
        head = "Model"  # sentence-transformers runs the bare model (AutoModel), whatever config.json names
    with Checkpoint(source.weight_files) as ckpt:
        plan = make_plan(source.config, {n: ckpt.shape(n) for n in ckpt.names()}, tokenizer_kind(source.path),
                         opts.family,
                         config_path, head)
        plan.notes[:0] = source.notes
        stored = str(ckpt.dtype(plan.entries[0].srcs[0]))  # the word embeddings, first in every table
        if stored in ("float16", "bfloat16") and dtype == "float32":
            plan.notes.append(f"the source's weights are {stored}; written as float32 (exactly: every {stored} value "
                              f"is one in float32); --dtype {stored} keeps them as they are, half the size")
        pipeline = None
        if sentence:  # modules it cannot run are refused here, before anything is written
            pipeline = read_source(source.path, source.config,
                                   plan.family.positions(plan.dims["P"],
                                                         source.config.get("pad_token_id", plan.family.pad_token_id)))
            plan.notes.append(pipeline.summary())
        if opts.expect is not None:
            opts.expect(plan)
        if helper is not None:  # the model loads there while this process converts
            helper.send("load", **torch_model_args(source.path, plan.paddle_class, source.weights_path, dtype))
        check_tokenizer_files(source.path, plan.dims["V"])
        pad_token_id = tokenizer_pad_id(source.path, plan, source.config, config_path)
        if not_verified:
            plan.notes.append(f"not verified: {not_verified}")
        elif opts.verify is False:
            plan.notes.append(f"not verified (--no-verify): `paddle-roberta verify {src} {out}` checks it later")
        with building(out, opts.overwrite) as tmp:
            weights_name, writer_cls = WRITERS[format]
            report_stage("converting", f"converting {len(plan.entries)} tensors to {plan.paddle_class} ({format}, "
                         f"{dtype})")
            written = write_weights(ckpt, plan.entries, writer_cls, os.path.join(tmp, weights_name),
                                    FLOAT_DTYPES[dtype],
                                    {"format": "np"}, opts.progress)
            config = paddle_config(source.config, plan, dtype, opts.num_choices, os.path.abspath(source.path),
                                   pad_token_id)
            write_json(os.path.join(tmp, "config.json"), config)
            positions = plan.family.positions(plan.dims["P"], config["pad_token_id"])
            tokenizer_class = write_tokenizer(source.path, tmp, model_max_length=positions, token_types=plan.dims["Y"])
            if pipeline is not None:
                written += write_sentence_files(tmp, pipeline, format, dtype)
            why_not = not_written(tokenizer_kind(source.path))
            if why_not:
                plan.notes.append(f"tokenizer: not written ({why_not}); tokenize with the source's tokenizer in "
                                  "transformers: the ids are the model's")
            report = None
            if helper is not None:
                report_stage("verifying", "verifying against the torch original (transformers vs PaddleNLP)")
                report = verified(source.path, tmp, out, opts.atol, weights=source.weights_path, torch_side=helper)
            report_stage("verified")
            given = os.fspath(src)
            write_model_card(tmp, out,
                             Card(given, plan.paddle_class, tokenizer_class, report and report.to_text(), dtype,
                                            why_not, pipeline and pipeline.summary().split(": ", 1)[-1]))
            write_marker(tmp, given, plan.paddle_class)  # last: it lists the files above with their sha256
            report_stage("written")
    return Result(out, plan.paddle_class, written, dropped=plan.dropped, notes=plan.notes, verify_report=report,
                  tokenizer=tokenizer_class, weights_file=os.path.join(out, weights_name), plan=plan)
