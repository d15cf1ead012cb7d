"""PaddleNLP -> Hugging Face: the way back, through the same plan and the same tensor stream as convert.

Reads a PaddleNLP Bert*/Roberta*/XLMRoberta* directory (one this tool converted, or one PaddleNLP's
``save_pretrained`` wrote: ``model_state.pdparams`` or ``model.safetensors``, one file or shards with an index,
PaddleNLP's config.json), plans every transformers tensor from the family's table read right to left
(``families.plan.export_plan``: shape, tie and leftover checks), streams the tensors into ``model.safetensors`` in
transformers' layout (``files.stream``), and writes a transformers config.json and the tokenizer files transformers'
``AutoTokenizer`` loads. Verified by default (``parity.gate``): transformers loads the result and ``verify`` compares
it with PaddleNLP's outputs on the source, before it is moved into place.
"""

from __future__ import annotations

import os

from . import preflight
from .errors import ConversionError
from .events import reporter
from .families.config import hf_config
from .families.detect import paddle_family_and_head, written_by_transformers
from .families.plan import export_plan
from .files.output_dir import building, write_json, write_marker
from .files.readers import Checkpoint, read_shard_index
from .files.source import read_config
from .files.stream import write_weights
from .files.weight_files import PADDLE_FORMATS, choose
from .files.writers import SafetensorsWriter
from .parity.gate import verified, verify_policy
from .result import Result
from .sentence.files import write_hf as write_sentence_files
from .sentence.modules import read_pipeline
from .tokenizer.hf_files import write_hf_tokenizer


def export(paddle_dir, dest, *, to="huggingface", overwrite=False, verify=None, atol=1e-5, weights=None,
           progress=False, on_stage=None) -> Result:
    """Write the Hugging Face directory ``dest`` for the PaddleNLP directory ``paddle_dir``. ``weights`` picks the
    weights file when the directory holds two formats that differ. Returns a ``Result``; ConversionError on bad
    input or a failed verification, leaving nothing at ``dest``."""
    if to != "huggingface":
        raise ConversionError(f"export --to {to!r}: only huggingface is supported")
    verify, _ = verify_policy(verify)
    report_stage = reporter(progress, on_stage)
    src = os.path.abspath(os.fspath(paddle_dir))
    dest = os.path.abspath(os.fspath(dest))
    preflight.export(src, dest, overwrite, None, weights)
    report_stage("reading", f"reading {src}")
    config_path = os.path.join(src, "config.json")
    config = read_config(config_path)
    weights_path = _weights_path(src, weights)
    files = read_shard_index(weights_path) if weights_path.endswith(".index.json") else [weights_path]
    with Checkpoint(files) as ckpt:
        names = ckpt.names()
        # transformers' names in a family whose PaddleNLP names differ, or a config transformers wrote
        # (XLM-RoBERTa's names are the same on both sides: only the config tells)
        fam, _ = paddle_family_and_head(config, config_path)
        renamed = any(row.hf != row.paddle for row in fam.embeddings)
        if written_by_transformers(config) or (renamed and any(".LayerNorm." in n for n in names)):
            raise ConversionError(f"{weights_path}: transformers' tensor names (LayerNorm): a Hugging Face directory, "
                                  "not a PaddleNLP one; export reads what convert or PaddleNLP's save_pretrained wrote")
        plan = export_plan(config, {n: ckpt.shape(n) for n in names}, config_path, weights_path)
        word = plan.entries[0]  # the word embeddings, first in every table
        torch_dtype = str(ckpt.dtype(word.srcs[0]))
        with building(dest, overwrite) as tmp:
            report_stage("converting", f"writing {plan.hf_class} (safetensors)")
            written = write_weights_hf(ckpt, plan, os.path.join(tmp, "model.safetensors"))
            write_json(os.path.join(tmp, "config.json"), hf_config(config, plan, torch_dtype))
            tokenizer = write_hf_tokenizer(src, tmp)
            pipeline = read_pipeline(src)  # a sentence-transformers model: its modules and configs again
            if pipeline is not None:
                written += write_sentence_files(tmp, pipeline)
                plan.notes.append(pipeline.summary())
            report = None
            if verify:  # the other direction: transformers loads what was written
                report_stage("verifying", "verifying: transformers loads what was written, against PaddleNLP")
                report = verified(tmp, src, dest, atol, weights=weights_path)
            report_stage("verified")
            write_marker(tmp, src, plan.hf_class)
            report_stage("written")
    return Result(dest, plan.hf_class, written, dropped=sorted(plan.dropped), notes=plan.notes, verify_report=report,
                  tokenizer=tokenizer, weights_file=os.path.join(dest, "model.safetensors"), plan=plan)


def write_weights_hf(ckpt, plan, path) -> int:
    """Each transformers tensor in the dtype PaddleNLP stored it in, in transformers' tensor order (sorted)."""
    entries = sorted(plan.entries, key=lambda e: e.dst)
    return write_weights(ckpt, entries, SafetensorsWriter, path, None, {"format": "pt"})


def _weights_path(src, weights=None) -> str:
    found = choose(src, PADDLE_FORMATS, weights)
    if found is None:
        raise ConversionError(f"{src}: no PaddleNLP weights (model.safetensors or model_state.pdparams)")
    return found[0]
