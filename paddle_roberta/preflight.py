"""What each command decides from its arguments and the files' names and JSON alone, before paddle, paddlenlp, torch or
transformers is imported (those take seconds to tens of seconds): the paths exist, OUT may be written, SRC is not OUT,
the directory is the kind the command takes (Hugging Face or PaddleNLP), a sentence-transformers model is whole.

Each refusal is a ``UsageError``: one line naming what the user gave and what to do instead; the command line exits 2.
The pipelines make the same checks again (``convert`` and the exports are called from Python too)."""

from __future__ import annotations

import os

from .errors import ConversionError, UsageError
from .families.config import size_difference
from .families.detect import written_by_transformers
from .families.tables import FAMILIES, find_class
from .files.hub import looks_like_repo_id, resolve_repo_id
from .files.output_dir import MARKER, check_output
from .files.source import read_json_object
from .files.weight_files import HF_FORMATS, PADDLE_FORMATS, named
from .sentence.modules import check_layout, is_sentence_transformers, missing_modules
from .serving.predictor import INFERENCE_JSON


def convert(src: str, out: str, overwrite: bool, head: str | None, weights: str | None = None) -> None:
    if not os.path.exists(src) and looks_like_repo_id(src):  # a hub id: found in the cache or downloaded now
        src = _usage(resolve_repo_id, src)
    config = _config(src, "SRC", "a Hugging Face model directory (config.json and the weights) or a hub id")
    kind = directory_kind(src, config)
    if kind == "paddle":
        origin = (config.get("paddle_roberta") or {}).get("source")
        raise UsageError(f"{src}: a PaddleNLP directory{f' (converted from {origin})' if origin else ''}, not a "
                         "Hugging Face one: it is converted already; load it with PaddleNLP, or run "
                         f"`paddle-roberta export {src} DEST` to get a Hugging Face directory back")
    if kind == "inference":
        raise UsageError(f"{src}: a Paddle Inference export (inference.json), not a Hugging Face model: serve it "
                         "(paddle_roberta.serving.Predictor); to convert, give the Hugging Face original")
    if head is not None and find_class(head) is None and not any(head in f.heads for f in FAMILIES.values()):
        examples = ", ".join(f.heads["ForMaskedLM"].paddle_class for f in FAMILIES.values())
        raise UsageError(f"--head {head}: not a class this tool converts (a PaddleNLP or transformers class name such "
                         f"as {examples}, or a head such as ForSequenceClassification)")
    if weights is not None:
        _usage(named, src, HF_FORMATS, weights)
    if is_sentence_transformers(src):
        _usage(check_layout, src)
        missing = missing_modules(src)
        if missing and head is None:
            body = (config.get("architectures") or ["BertModel"])[0]
            raise UsageError(f"{src}: a sentence-transformers model whose {missing[0]}; copy the whole model folder "
                             f"to convert its sentence embeddings, or pass --head {body} to convert the transformer "
                             "body alone (token states, not embeddings)")
    _usage(check_output, out, src, overwrite)


def export(paddle_dir: str, dest: str, overwrite: bool, source: str | None, weights: str | None = None) -> None:
    config = _config(paddle_dir, "PADDLE_DIR", "a PaddleNLP model directory (one convert wrote, or save_pretrained)")
    kind = directory_kind(paddle_dir, config)
    if kind == "huggingface":
        raise UsageError(f"{paddle_dir}: a Hugging Face directory, not a PaddleNLP one; convert it first "
                         f"(`paddle-roberta convert {paddle_dir} OUT`), then export OUT")
    if kind == "inference":
        origin = _marker_source(paddle_dir)
        raise UsageError(f"{paddle_dir}: a Paddle Inference export (inference.json), not a PaddleNLP model directory; "
                         f"export from the PaddleNLP directory it was made from{f' ({origin})' if origin else ''}")
    if weights is not None:
        _usage(named, paddle_dir, PADDLE_FORMATS, weights)
    if source is not None:
        src_config = _config(source, "--source", "the Hugging Face directory PADDLE_DIR was converted from")
        if directory_kind(source, src_config) in ("paddle", "inference"):
            raise UsageError(f"{source}: a PaddleNLP directory, not a Hugging Face one; --source is the Hugging Face "
                             "original PADDLE_DIR was converted from (or leave --source out to verify against the "
                             "PaddleNLP model)")
        _same_model(source, src_config, paddle_dir, config, "--source", "leave --source out to verify against the "
                    "PaddleNLP model")
    _usage(check_output, dest, paddle_dir, overwrite)


def verify(src: str, out: str) -> None:
    src_config = None
    if os.path.exists(src) or not looks_like_repo_id(src):
        src_config = _config(src, "SRC", "the Hugging Face model directory that was converted, or its hub id")
        kind = directory_kind(src, src_config)
        if kind in ("paddle", "inference"):
            what = "a PaddleNLP directory" if kind == "paddle" else "a Paddle Inference export"
            raise UsageError(f"{src}: {what}, not a Hugging Face one; give the Hugging Face directory first, then "
                             "the PaddleNLP one (paddle-roberta verify SRC OUT)")
    config = _config(out, "OUT", "the converted PaddleNLP directory")
    kind = directory_kind(out, config)
    if kind == "huggingface":
        raise UsageError(f"{out}: a Hugging Face directory, not a PaddleNLP one; give the Hugging Face directory "
                         "first, then the PaddleNLP one (paddle-roberta verify SRC OUT)")
    if kind == "inference":
        raise UsageError(f"{out}: a Paddle Inference export; verify compares a PaddleNLP directory with its original "
                         "(the export was verified when it was written: its README holds the report)")
    if src_config is not None:
        _same_model(src, src_config, out, config, "SRC", "give the Hugging Face directory OUT was converted from")


def directory_kind(path: str, config: dict) -> str:
    """"inference" (an export's inference.json), "paddle" (this tool's conversion or PaddleNLP's save_pretrained),
    "huggingface" (transformers wrote it, or this tool's export to Hugging Face), or "unknown" (no evidence either way:
    the command goes on, and the pipeline's own checks decide)."""
    if os.path.isfile(os.path.join(path, INFERENCE_JSON)):
        return "inference"
    if written_by_transformers(config):
        return "huggingface"
    if os.path.isfile(os.path.join(path, MARKER)) and not {"paddle_roberta", "paddlenlp_version"} & set(config):
        return "huggingface"  # this tool wrote it, and not as a PaddleNLP directory: its export to Hugging Face
    return "paddle" if _paddle_dir(path, config) else "unknown"


def _same_model(src, src_config, out, config, role, instead):
    differ = size_difference(src_config, config)
    if differ:
        key, theirs, ours = differ
        raise UsageError(f"{src}: not the model {out} was converted from: its {key} is {theirs!r}, {out}'s {ours!r} "
                         f"({role}: {instead})")


def _marker_source(path: str):
    try:
        return read_json_object(os.path.join(path, MARKER)).get("source")
    except ConversionError:
        return None


def _config(path: str, role: str, what: str) -> dict:
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such directory ({role}: {what})")
    if not os.path.isdir(path):
        raise UsageError(f"{path}: not a directory ({role}: {what})")
    if not os.path.isfile(os.path.join(path, "config.json")) and not is_sentence_transformers(path):
        raise UsageError(f"{path}: config.json is missing, so not a model directory ({role}: {what})")
    return _usage(read_json_object, os.path.join(path, "config.json"), True)


def _usage(check, *args):
    """``check(*args)``, its ConversionError as a UsageError (decided before any framework is imported)."""
    try:
        return check(*args)
    except UsageError:
        raise
    except ConversionError as e:
        raise UsageError(str(e), e.details) from None


def _paddle_dir(path: str, config: dict) -> bool:
    """A directory this tool or PaddleNLP wrote: its config says so, or its weights have PaddleNLP's names."""
    if {"paddlenlp_version", "paddle_roberta"} & set(config):
        return True
    names = set(os.listdir(path))
    return "model_state.pdparams" in names and not {"pytorch_model.bin", "model.safetensors"} & names
