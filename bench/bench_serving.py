"""The default path and serving speed, side by side (issue 9's targets).

    make bench-serving     # or: .venv/bin/python bench/bench_serving.py [--runs 3] [--only NAME]

Checkpoints as bench_convert.py builds them (random weights, cached in bench/.cache/): the CLUE-large
shape (BertModel, 1.3 GB safetensors) and the distilroberta-base shape (served as the bare RobertaModel).

1. Default path, CLUE-large shape: `paddle-roberta convert` with verification on vs PaddleNLP's own,
   unverified converter; `paddle_roberta.from_pretrained` on the converted directory vs transformers'
   `from_pretrained` on the source; PaddleNLP's `AutoModel.from_pretrained` plain and with
   `low_cpu_mem_usage=True`. Wall time of each in its own process, and its peak RSS (VmHWM; for convert, plus
   the peak of its verification helper process).
2. Serving, both shapes, batch 1x16, 8x128, 32x256, 2 threads for every engine: torch eager, PaddleNLP
   dygraph, and the `export --to inference` model in Paddle Inference with oneDNN on and off. One warm-up
   run per shape, then up to --runs timed runs (fewer when one run takes over 20 s); medians. Peak RSS
   of each engine's process over its three shapes.
Prints markdown tables; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_convert import CACHE, PADDLENLP_CONVERT, build  # noqa: E402

PY = sys.executable
THREADS = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
SHAPES = [(1, 16), (8, 128), (32, 256)]
CLUE = "clue-large shape (safetensors)"
DISTIL = "distilroberta-base shape (.bin)"

HWM = "print('VMHWM', next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) // 1024)"
# convert's verification runs torch in a helper process: its peak is added (the sum bounds the two at once)
HWM_WITH_HELPER = ("import resource; print('VMHWM', next(int(l.split()[1]) for l in open('/proc/self/status') "
                   "if l.startswith('VmHWM:')) // 1024 + "
                   "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)")
LOAD = {
    "paddle_roberta.from_pretrained": "import sys, paddle_roberta; paddle_roberta.from_pretrained(sys.argv[1])",
    "transformers from_pretrained (source)": "import sys, transformers; "
                                             "transformers.AutoModel.from_pretrained(sys.argv[2])",
    "PaddleNLP AutoModel.from_pretrained": "import sys, paddlenlp.transformers as pt; "
                                           "pt.AutoModel.from_pretrained(sys.argv[1])",
    "PaddleNLP AutoModel, low_cpu_mem_usage=True": "import sys, paddlenlp.transformers as pt; "
                                                   "pt.AutoModel.from_pretrained(sys.argv[1], low_cpu_mem_usage=True)",
}
# One engine in one process: load, then per shape a warm-up and timed runs; prints JSON.
SERVE = r"""
import json, os, statistics, sys, time
import numpy as np
engine, path, shapes, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
if engine == "torch eager":
    import torch, transformers
    torch.set_num_threads(2)
    m = transformers.AutoModel.from_pretrained(path).eval()
    def run(ids, mask):
        with torch.no_grad():
            m(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
elif engine == "PaddleNLP dygraph":
    import paddle
    from paddle_roberta.loading import load
    m = load(path)
    def run(ids, mask):
        with paddle.no_grad():
            m(input_ids=paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask))
else:
    from paddle_roberta.serving import Predictor
    p = Predictor(path, threads=2, mkldnn=engine.endswith("oneDNN on"))
    names = p.input_names
    def run(ids, mask):
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        p.run(feed)
out = {}
for b, s in shapes:
    ids = np.random.default_rng(0).integers(5, 1000, (b, s)).astype(np.int64); mask = np.ones_like(ids)
    t = time.perf_counter(); run(ids, mask); warm = time.perf_counter() - t
    times, budget = [], time.perf_counter()
    for _ in range(runs if warm < 20 else 1):
        t = time.perf_counter(); run(ids, mask); times.append(time.perf_counter() - t)
        if time.perf_counter() - budget > 45:
            break
    out[f"{b}x{s}"] = [statistics.median(times), len(times)]
hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) // 1024
print(json.dumps({"times": out, "rss": hwm}))
"""
ENGINES = ["torch eager", "PaddleNLP dygraph", "Paddle Inference, oneDNN on", "Paddle Inference, oneDNN off"]


def timed(cmd, env=None):
    """(wall s, peak RSS MiB of the new process, stdout)."""
    os.sync()
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **THREADS, **(env or {})})
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    rss = [int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("VMHWM")]
    return wall, (rss[-1] if rss else None), r.stdout


def default_path(runs, work):
    src, hf_class = build(CLUE)
    rows = {}
    def convert_cmd(i):
        code = "import sys; from paddle_roberta.cli import main; rc = main(sys.argv[1:]); " + HWM_WITH_HELPER
        return [PY, "-c", code + "; sys.exit(rc)", "convert", src, os.path.join(work, f"v{i}"), "--quiet"]

    results = [timed(convert_cmd(i)) for i in range(runs)]
    rows["paddle-roberta convert (verification on)"] = results
    theirs = []
    for i in range(runs):
        copy = os.path.join(work, f"theirs{i}")
        subprocess.run(["cp", "-r", src, copy], check=True)
        theirs.append(timed([PY, "-c", PADDLENLP_CONVERT.format(cls=hf_class) + "\n" + HWM, copy]))
    rows["PaddleNLP from_pretrained(convert_from_torch=True), unverified"] = theirs
    out = os.path.join(work, "v0")
    for label, code in LOAD.items():
        rows[label] = [timed([PY, "-c", code + "\n" + HWM, out, src]) for _ in range(runs)]
    return src, rows


def serving(name, runs, work):
    from paddle_roberta import convert
    from paddle_roberta.export_inference import export_inference

    src, hf_class = build(name)
    head = {} if name == CLUE else {"head": "RobertaModel"}  # the bare model: no 50265-wide logits to time
    out, served = os.path.join(work, f"{hf_class}-pd"), os.path.join(work, f"{hf_class}-inference")
    convert(src, out, verify=False, **head)
    export_inference(out, served, verify=False)
    paths = {"torch eager": src, "PaddleNLP dygraph": out}
    results = {}
    for engine in ENGINES:
        _, _, stdout = timed([PY, "-c", SERVE, engine, paths.get(engine, served), json.dumps(SHAPES), str(runs)])
        results[engine] = json.loads(stdout.strip().splitlines()[-1])
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["default-path", CLUE, DISTIL], action="append")
    args = parser.parse_args(argv)
    only = args.only or ["default-path", DISTIL, CLUE]
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, "
          f"2 threads for every engine, medians of up to {args.runs} runs\n", flush=True)
    os.makedirs(CACHE, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        if "default-path" in only:
            src, rows = default_path(args.runs, work)
            print(f"### Default path, {CLUE}\n")
            print("| | wall s (median) | peak RSS MiB |")
            print("|---|---|---|")
            med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rows.items()}
            for k, (wall, rss) in med.items():
                print(f"| {k} | {wall:.2f} | {rss:.0f} |")
            ours, theirs = (med["paddle-roberta convert (verification on)"][0],
                            med["PaddleNLP from_pretrained(convert_from_torch=True), unverified"][0])
            load, hf = med["paddle_roberta.from_pretrained"][0], med["transformers from_pretrained (source)"][0]
            print(f"\nconvert with verification: {theirs / ours:.1f}x faster than PaddleNLP's unverified converter "
                  f"(target >= 3x)")
            print(f"paddle_roberta.from_pretrained: {load / hf:.2f}x transformers' from_pretrained time "
                  f"(target <= 1.0x; "
                  "process wall time, imports included)\n", flush=True)
        for name in (n for n in (DISTIL, CLUE) if n in only):
            results = serving(name, args.runs, work)
            print(f"### Serving, {name}\n")
            print("| engine | " + " | ".join(f"{b}x{s} s" for b, s in SHAPES) + " | peak RSS MiB |")
            print("|---|" + "---|" * (len(SHAPES) + 1))
            for engine, r in results.items():
                cells = [f"{r['times'][f'{b}x{s}'][0]:.3f} ({r['times'][f'{b}x{s}'][1]})" for b, s in SHAPES]
                print(f"| {engine} | " + " | ".join(cells) + f" | {r['rss']} |")
            t = {e: {k: v[0] for k, v in r["times"].items()} for e, r in results.items()}
            inf, torch_t, dy = t["Paddle Inference, oneDNN on"], t["torch eager"], t["PaddleNLP dygraph"]
            print("\n(runs timed in parentheses) Paddle Inference (oneDNN) / torch eager: " +
                  ", ".join(f"{k} {inf[k] / torch_t[k]:.2f}x" for k in inf) + " (target <= 1.0x); "
                  f"PaddleNLP dygraph / Paddle Inference at 8x128: {dy['8x128'] / inf['8x128']:.1f}x (target >= 3x)\n",
                  flush=True)


if __name__ == "__main__":
    main()
