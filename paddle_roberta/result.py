"""What every pipeline returns: ``convert``, ``export`` and ``export_inference`` give one ``Result``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    path: str  # the output directory
    model_class: str  # the class written: PaddleNLP's (convert, export_inference) or transformers' (export)
    tensors: int  # tensors written
    dropped: list = field(default_factory=list)  # source tensors not written, each on purpose
    notes: list = field(default_factory=list)  # what was decided on the way (family, head, pooler, weights read, ...)
    verify_report: dict | None = None  # None when not verified
    tokenizer: str | None = None  # the tokenizer class written, None when the source has none
    weights_file: str | None = None  # the weights file written (the static graph's parameters for export_inference)
    plan: object = None  # families.plan.Plan (convert, export)
    inputs: list = field(default_factory=list)  # export_inference: the static graph's inputs, in order
    outputs: list = field(default_factory=list)  # export_inference: its outputs, in order

    def __fspath__(self) -> str:  # a Result stands for its directory wherever a path is taken
        return self.path

    def __str__(self) -> str:
        return self.path
