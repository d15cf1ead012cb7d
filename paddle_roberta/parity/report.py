"""A verification report: ``Diff`` rows (one per compared output), the checks beside them (tokenizer ids, fill-mask
top 5), and ``build_report``, the one function every path calls to make one (convert, export to Hugging Face, export
to inference, sentence pipelines, ``check`` and the demo). The pass rule and the scale rule live here and nowhere else.

The bar (``Diff.bar``): |a - b| <= atol * max(1, max |a|, max |input|) — the absolute bar for values of magnitude
<= 1, the same bar relative to the largest magnitude on the output's path above it. float32 rounding grows with the
magnitude, so a fixed absolute bar fails deep models on noise: 24 layers at hidden 1024 with trained-looking weights end
at |h| ~ 30 with 6e-5 abs (2e-6 rel) difference, which the tanh pooler carries into a bounded output as 1.03e-5. A wrong
weight is off by 1e-2 or more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

TABLE_HEAD = ("| output | shape | max abs diff | max rel diff | within | padded positions (not judged) |\n"
              "|---|---|---|---|---|---|")
BAR = "x max(1, max|output|, |last hidden| for heads)"  # how the bar scales, as reports state it
PADDED_NOTE = ("(per-token outputs are judged at the real tokens; padded positions, which the attention mask hides,\n"
               " differ where PaddleNLP embeds the pad id as zeros: see docs/differences.md)")


@dataclass
class Diff:
    """One output compared: the reference (``a``, torch or the dygraph model) against the output judged (``b``)."""

    name: str
    max_abs: float  # at real tokens for per-token outputs, else over the whole output
    max_rel: float  # max |a - b| / max |a|: relative to the output's scale, robust to zeros
    shape: tuple
    scale: float = 1.0  # max |a| of the reference output (where judged)
    padded_max_abs: float | None = None  # at padded positions: reported, not judged; None when none
    input_scale: float = 0.0  # head outputs: max |last hidden state| at real tokens, what the head reads
    got_shape: tuple | None = None  # the judged output's shape where it is not the reference's: failed, whatever else
    verdict: bool | None = None  # a row judged by a rule of its own (sentence cosines, named in the row's name)
    extra: dict = field(default_factory=dict)  # figures such a rule reports (JSON only)

    def bar(self, atol: float) -> float:
        """The one scale rule (module docstring)."""
        return atol * max(1.0, self.scale, self.input_scale)

    def within(self, atol: float) -> bool:
        if self.got_shape is not None:
            return False
        if self.verdict is not None:
            return self.verdict
        return self.max_abs <= self.bar(atol)

    def padded_differs(self, atol: float) -> bool:
        """Would the padded positions, were they judged, fail the same bar? (reported, never judged)"""
        return self.padded_max_abs is not None and self.padded_max_abs > self.bar(atol)

    def failure(self) -> str:
        """How the report's one-line failure names this row."""
        if self.got_shape is not None:
            return f"{self.name} (shape {_shape(self.shape)} vs {_shape(self.got_shape)})"
        return self.name

    def as_json(self, atol: float) -> dict:
        return {"name": self.name, "shape": list(self.shape), "max_abs": self.max_abs, "max_rel": self.max_rel,
                "within": self.within(atol), "padded_max_abs": self.padded_max_abs,
                "padded_differs": self.padded_differs(atol),
                **({"got_shape": list(self.got_shape)} if self.got_shape is not None else {}), **self.extra}

    def table_row(self, atol: float) -> str:
        padded = "—" if self.padded_max_abs is None else f"{self.padded_max_abs:.2e}"
        if self.got_shape is not None:
            return f"| {self.name} | {_shape(self.shape)} vs {_shape(self.got_shape)} | — | — | NO (shape) | {padded} |"
        return (f"| {self.name} | {_shape(self.shape)} | {self.max_abs:.2e} | {self.max_rel:.2e} "
                f"| {'yes' if self.within(atol) else 'NO'} | {padded} |")


@dataclass
class Report:
    """What was compared and the verdict. ``report["key"]`` reads ``to_json()`` (as ``Result.verify_report`` did)."""

    title: str  # the first line: what against what, at which bar
    atol: float
    rows: list  # [Diff]
    checks: dict  # judged checks besides the outputs: name -> passed ("tokenizer ids", "fill-mask top 5", ...)
    notes: list  # lines between the title and the table
    after: list  # lines after the table
    data: dict  # everything else the JSON carries (source, classes, tokenizer rows, fill-mask rows, ...)

    @property
    def ok(self) -> bool:
        return not self.failures()

    def failures(self) -> list:
        """What made it fail, by name (empty when it passed)."""
        rows = [d.failure() for d in self.rows if not d.within(self.atol)]
        return rows + [name for name, passed in self.checks.items() if not passed]

    def to_text(self) -> str:
        lines = [self.title, "", *self.notes, *([""] if self.notes else []), TABLE_HEAD]
        lines += [d.table_row(self.atol) for d in self.rows]
        if any(d.padded_differs(self.atol) for d in self.rows):
            lines.append(PADDED_NOTE)
        lines += self.after
        return "\n".join(lines + ["", "PASS" if self.ok else "FAIL"])

    def to_json(self) -> dict:
        return {**self.data, "atol": self.atol, "outputs": [d.as_json(self.atol) for d in self.rows],
                "checks": dict(self.checks), "failures": self.failures(), "ok": self.ok, "text": self.to_text()}

    def write_json(self, path: str):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2, ensure_ascii=False)

    def __getitem__(self, key):
        return self.to_json()[key]

    def get(self, key, default=None):
        return self.to_json().get(key, default)


def build_report(title: str, atol: float, rows, *, checks=None, notes=(), after=(), bar=BAR, **data) -> Report:
    """The report of ``rows`` ([Diff]) judged at ``atol``, with ``checks`` ({name: passed}) beside them; ``bar``: how
    the title states the bar's scale."""
    return Report(f"{title}, atol {atol:g} {bar}", atol, list(rows), dict(checks or {}), list(notes), list(after),
                  data)


def _shape(shape) -> str:
    return "×".join(map(str, shape))
