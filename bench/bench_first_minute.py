"""A user's first minute, measured: refusals against --version (whole process, same run), what each command's own
process imports (python -X importtime, cumulative seconds of the frameworks' top-level imports), and a second
convert in one Python process against the first (the verification helper kept).

    .venv/bin/python bench/bench_first_minute.py [--runs 5]

Prints markdown; nothing here is a test (tests/test_first_minute.py holds the bars).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
FRAMEWORKS = ("paddle", "paddlenlp", "torch", "transformers", "huggingface_hub", "numpy")


def cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
        name = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
        flags = next(line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags"))
        extra = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
        return f"{name} ({', '.join(extra)}), {os.cpu_count()} CPUs"
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def wall(args, cwd, runs) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([PY, "-m", "paddle_roberta", *args], capture_output=True, cwd=cwd, timeout=600)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imports(args, cwd) -> tuple:
    """(wall seconds, {framework: cumulative import seconds}) of one run."""
    start = time.perf_counter()
    r = subprocess.run([PY, "-X", "importtime", "-m", "paddle_roberta", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=900)
    took = time.perf_counter() - start
    found = {}
    for line in r.stderr.splitlines():
        if line.startswith("import time:"):
            _, cumulative, name = (p.strip() for p in line[len("import time:"):].split("|"))
            if name in FRAMEWORKS:
                found[name] = found.get(name, 0) + int(cumulative) / 1e6
    return took, found


SECOND = """
import sys, time
from paddle_roberta import convert
t = time.perf_counter(); convert(sys.argv[1], sys.argv[2] + "-1"); first = time.perf_counter() - t
t = time.perf_counter(); convert(sys.argv[1], sys.argv[2] + "-2"); second = time.perf_counter() - t
print(first, second)
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from paddle_roberta.dev.seeds import SEEDS
    from paddle_roberta.dev.synthetic import build_checkpoint

    print(f"# first minute, {time.strftime('%Y-%m-%d')}, {cpu()}\n")
    with tempfile.TemporaryDirectory() as root:
        seed = SEEDS["clue/roberta_chinese_clue_tiny"]
        build_checkpoint(os.path.join(root, "hf"), seed.hf_class, seed.config, vocab=seed.vocab)
        subprocess.run([PY, "-m", "paddle_roberta", "convert", "hf", "pd", "--quiet"], cwd=root, check=True)
        version = wall(["--version"], root, args.runs)
        print(f"## Refusals (median of {args.runs} whole-process runs; --version {version:.2f} s)\n")
        print("| command | seconds | × --version |\n|---|---|---|")
        for cmd in (["convert", "/typo", "o"], ["convert", "hf", "hf"], ["convert", "hf", "pd"], ["convert", "pd", "o"],
                    ["export", "hf", "o"], ["export", "pd", "o", "--to", "inference", "--source", "pd"],
                    ["verify", "pd", "hf"]):
            t = wall(cmd, root, args.runs)
            print(f"| `{' '.join(cmd)}` | {t:.2f} | {t / version:.2f} |")
        print("\n## What each command's process imports (seconds, cumulative; one run each)\n")
        print("| command | wall | " + " | ".join(FRAMEWORKS) + " |\n|---|---|" + "---|" * len(FRAMEWORKS))
        for i, cmd in enumerate((["convert", "hf", "a", "--no-verify"], ["convert", "hf", "b"],
                                 ["export", "pd", "c", "--no-verify"], ["export", "pd", "d"],
                                 ["export", "pd", "e", "--to", "inference"], ["verify", "hf", "pd"])):
            took, found = imports(cmd, root)
            cells = " | ".join(f"{found[f]:.2f}" if f in found else "—" for f in FRAMEWORKS)
            print(f"| `{' '.join(cmd)}` | {took:.1f} | {cells} |")
        r = subprocess.run([PY, "-c", SECOND, "hf", "again"], capture_output=True, text=True, cwd=root, timeout=900)
        first, second = map(float, r.stdout.split()[-2:])
        print(f"\n## Two converts in one Python process\n\nfirst {first:.2f} s, second {second:.2f} s "
              f"({second / first:.2f}× the first: the verification helper and the frameworks stay loaded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
