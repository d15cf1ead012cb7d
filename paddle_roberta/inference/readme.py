"""The export's README (templates/README.md.jinja): its files, inputs and outputs, how to run and serve it, and the
verification report."""

from __future__ import annotations

import os

from ..files.templates import render
from ..serving.app_file import serving_section
from ..serving.predictor import CACHE_CAPACITY

SHAPES = {2: "[batch, seq]", 3: "[batch, choices, seq]", 4: "[batch, 1, seq, seq]"}


def write_readme(folder: str, spec: dict, report, name: str):
    text = render(os.path.dirname(__file__), "README.md.jinja", spec=spec,
                  inputs=", ".join(f"`{i['name']}` {i['dtype']} {SHAPES[i['rank']]}" for i in spec["inputs"]),
                  outputs=", ".join(f"`{o}`" for o in spec["outputs"]),
                  pooling_mask=any(i["name"] == "pooling_mask" for i in spec["inputs"]),
                  serving=serving_section(spec, name), cache_capacity=CACHE_CAPACITY,
                  report=report.to_text() if report is not None else "Not verified (`--no-verify`).")
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)
