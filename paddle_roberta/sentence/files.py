"""The pipeline's files: beside a converted body (``convert``) and back as a sentence-transformers directory
(``export_hf``). Dense weights travel through ``files.stream`` like the body's, by ``modules.DENSE``."""

from __future__ import annotations

import os

from ..files.output_dir import write_json
from ..files.readers import FLOAT_DTYPES, Checkpoint
from ..files.stream import write_weights
from ..files.writers import WRITERS, SafetensorsWriter
from .modules import PIPELINE_JSON, Pipeline, dense_entries


def write_paddle(tmp: str, pipeline: Pipeline, fmt: str, dtype: str) -> int:
    """``sentence_encoder.json`` and each Dense module's weights (Paddle's layout, the output's format and dtype)
    into ``tmp``; the number of tensors written."""
    written = 0
    for m in pipeline.modules:
        if m["type"] == "Dense":
            folder = os.path.join(tmp, m["path"])
            os.makedirs(folder, exist_ok=True)
            name, writer = WRITERS[fmt]
            with Checkpoint([m["source_weights"]]) as ckpt:
                entries = dense_entries(m, ckpt, "paddle", m["source_weights"])
                written += write_weights(ckpt, entries, writer, os.path.join(folder, name), FLOAT_DTYPES[dtype],
                                         {"format": "np"})
    write_json(os.path.join(tmp, PIPELINE_JSON), pipeline.as_json())
    return written


def write_hf(tmp: str, pipeline: Pipeline) -> int:
    """The source's sentence-transformers configs, byte for byte, and each Dense module's ``model.safetensors`` in
    torch's layout and the dtype stored, with no metadata (as sentence-transformers writes it); tensors written."""
    for rel, text in pipeline.st_files.items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    written = 0
    for m in pipeline.modules:
        if m["type"] == "Dense":
            os.makedirs(os.path.join(tmp, m["path"]), exist_ok=True)
            with Checkpoint([m["weights"]]) as ckpt:
                entries = sorted(dense_entries(m, ckpt, "hf", m["weights"]), key=lambda e: e.dst)
                written += write_weights(ckpt, entries, SafetensorsWriter,
                                         os.path.join(tmp, m["path"], "model.safetensors"),
                                         None, None)
    return written
