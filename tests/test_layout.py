"""The package's shape, from its import graph (every import, module-level and function-level, read with ast): no
cycle; each stage imports only stages below it; nothing imports the package ``__init__`` or another module's private
names; one place builds verification reports; the linter's settings hold."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "paddle_roberta")

# Lower stages never import higher ones (same rank: allowed, cycles aside).
RANKS = [
    ("errors", "_version", "result", "signals", "events"),  # what every stage shares
    ("families", "files", "tokenizer"),  # the tables and the plan, the weights files, the tokenizer
    ("loading",),  # a converted directory into PaddleNLP's class, every parameter from the file
    ("sentence",),  # a sentence-transformers pipeline on a loaded body
    ("parity",),  # comparisons, the report, the gate
    ("serving", "inference", "tasks"),  # the exported model served; the inference export's stages; task answers
    ("convert", "export_hf", "export_inference", "preflight"),  # the three pipelines and their argument checks
    ("api", "cli", "dev", "__main__", ""),  # entry points: convert-then-load, the command line, the demo
]
RANK = {name: rank for rank, names in enumerate(RANKS) for name in names}


def modules() -> dict:
    found = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                name = "paddle_roberta" + ("" if rel == "__init__" else "." + rel.removesuffix(".__init__"))
                found[name] = path
    return found


def imports(mods: dict) -> dict:
    """module -> {(imported module, imported name or None)}"""
    edges = {}
    for name, path in mods.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        out = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                if base.split(".")[0] == "paddle_roberta":
                    for alias in node.names:
                        sub = f"{base}.{alias.name}"
                        out.add((sub, None) if sub in mods else (base, alias.name))
            elif isinstance(node, ast.Import):
                out |= {(a.name, None) for a in node.names if a.name.split(".")[0] == "paddle_roberta"}
        edges[name] = out
    return edges


MODS = modules()
EDGES = imports(MODS)
GRAPH = {m: {t for t, _ in ts if t in MODS and t != m} for m, ts in EDGES.items()}


def stage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_no_import_cycle():
    seen, stack, cycles = {}, [], []

    def visit(m):
        seen[m] = "open"
        stack.append(m)
        for t in sorted(GRAPH[m]):
            if seen.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in seen:
                visit(t)
        stack.pop()
        seen[m] = "done"

    for m in sorted(GRAPH):
        if m not in seen:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_stages_import_only_stages_below():
    assert set(map(stage, MODS)) <= set(RANK), f"a stage with no rank: {set(map(stage, MODS)) - set(RANK)}"
    wrong = [f"{m} -> {t}" for m, ts in GRAPH.items() for t in ts if RANK[stage(t)] > RANK[stage(m)]]
    assert not wrong, "imports up the stages: " + ", ".join(sorted(wrong))


def test_no_package_init_or_private_names_across_modules():
    wrong = [f"{m} imports {t}" for m, ts in GRAPH.items() for t in ts if t == "paddle_roberta" and m != t]
    wrong += [f"{m} imports {t}.{n}" for m, ts in EDGES.items() for t, n in ts
              if n and n.startswith("_") and not n.startswith("__") and t != m]
    assert not wrong, wrong


def test_one_function_builds_reports():
    """Only parity/report.py makes a Report or a verdict's text (the table and PASS/FAIL)."""
    makers = []
    for name, path in MODS.items():
        text = open(path, encoding="utf-8").read()
        if name != "paddle_roberta.parity.report" and any(s in text for s in ("Report(", "TABLE_HEAD", '"PASS"')):
            makers.append(name)
    assert not makers, makers


@pytest.mark.skipif(shutil.which("ruff", path=os.path.dirname(sys.executable)) is None, reason="ruff not installed")
def test_ruff_clean():
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable))
    done = subprocess.run([ruff, "check", "--quiet", os.path.dirname(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
