"""The main job on an embedded default: build seed-shaped checkpoints, convert, load, show parity.

    python -m paddle_roberta.demo [--seed NAME ...] [--workdir DIR]

Hub weights cannot be downloaded here, so each seed model is built at its exact architecture
with random (seeded, perturbed) weights, saved as transformers saves it, converted with
``paddle_roberta.convert``, loaded with PaddleNLP's class and ``AutoModel``, and compared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

from ..convert import convert
from ..parity.check import check
from ..parity.verify import quiet_libraries
from .seeds import SEEDS
from .synthetic import build_checkpoint

DEFAULT_SEEDS = ("clue/roberta_chinese_clue_tiny", "distilroberta-base")
ATOL = 1e-5


def run(name: str, workdir: str) -> bool:
    seed = SEEDS[name]
    src = os.path.join(workdir, name.replace("/", "--"))
    out = src + "-paddle"
    print(f"\n## {name}\n")
    t = time.perf_counter()
    model = build_checkpoint(src, seed.hf_class, seed.config, vocab=seed.vocab, config_json=seed.config)
    print(f"built {seed.hf_class} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, random, "
          f"trained-looking weights) in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    result = convert(src, out, overwrite=True)
    print(f"converted to {result.plan.paddle_class} in {time.perf_counter() - t:.2f} s -> {out}")
    for note in result.plan.notes:
        print(f"  note: {note}")
    if result.verify_report:  # the report `paddle-roberta verify` prints (docs/cli.md, "verify")
        print("\n" + result.verify_report.to_text())
    report = check(src, out, torch_model=model, atol=ATOL)
    print(f"\nloaded again by its class ({report['class']}) and by AutoModel ({report['auto_class']}):\n")
    print(report.to_text())
    worst = max(report.rows, key=lambda d: d.max_abs)
    ok = report.ok
    print(f"\nworst: max abs diff {worst.max_abs:.2e}, max rel diff {max(d.max_rel for d in report.rows):.2e}: "
          f"{'all within' if ok else 'OUTSIDE'} {ATOL:g} x max(1, max|output|, |last hidden| for heads)")
    return ok  # a failed verification raised in convert


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="append", choices=sorted(SEEDS),
                        help="seed model(s); default: " + ", ".join(DEFAULT_SEEDS))
    parser.add_argument("--workdir", help="where to build and convert (default: a temporary directory)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # a demo's output is its figures
    quiet_libraries()
    names = args.seed or list(DEFAULT_SEEDS)
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
        results = [run(n, args.workdir) for n in names]
    else:
        with tempfile.TemporaryDirectory() as workdir:
            results = [run(n, workdir) for n in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
