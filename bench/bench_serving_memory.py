"""Serving memory under a mixed-length load: oneDNN's shape cache capped at 1, 2, 4, 8, 16 and the bucket count,
against the uncapped Predictor and torch eager (issue 32's sweep, which chose ``serving.predictor.CACHE_CAPACITY``).

    .venv/bin/python bench/bench_serving_memory.py [--batches 50] [--capacities 0,1,2,4,8,16] [--rounds 1]
                                                   [--bfloat16]

The model is bench_predictor_threads.py's distilroberta-base-shaped RoBERTa classifier (random trained-looking
weights, built once in bench/.cache/), exported with ``export --to inference``. The load: --batches batches of 1-8
texts, each text 1-512 tokens (one seeded draw, the same for every engine), so a batch's padded shape changes
nearly every time. Each engine runs in its own process with 2 threads: load, then the batches in order; it prints
the peak RSS (VmHWM) after loading and after the load, and the median and total time per batch. The Predictor pads
to buckets of 32 tokens (its default), so it meets up to 8 batch sizes x 16 lengths = 128 shapes; torch runs each
batch at its own length. Every engine's logits are checked against torch's (max abs diff printed). Nothing here is
a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_predictor_threads import CACHE, build, cpu_model  # noqa: E402

PY = sys.executable

# One engine in one process: prints JSON.
WORKER = r"""
import json, statistics, sys, time
import numpy as np
engine, path, capacity, batches = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
precision = "bfloat16" if engine == "paddle-bf16" else "float32"

def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) // 1024

rng = np.random.default_rng(32)
load = []
for _ in range(batches):
    n = int(rng.integers(1, 9))
    lengths = rng.integers(1, 513, n)
    ids = np.full((n, int(lengths.max())), 1, np.int64)  # pad id 1
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(5, 50000, length)
        ids[row, 0], ids[row, length - 1] = 0, 2
        mask[row, :length] = 1
    load.append((ids, mask))

if engine == "torch":
    import torch, transformers
    torch.set_num_threads(2)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    def run(ids, mask):
        with torch.no_grad():
            return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
else:
    from paddle_roberta.serving import Predictor
    predictor = Predictor(path, threads=2, cache_capacity=capacity, precision=precision)
    def run(ids, mask):
        return predictor.run({"input_ids": ids, "attention_mask": mask})["logits"]

loaded = hwm()
times, logits = [], []
for ids, mask in load:
    start = time.perf_counter()
    logits.append(run(ids, mask))
    times.append(time.perf_counter() - start)
np.save(sys.argv[5], np.concatenate(logits))
print(json.dumps({"loaded": loaded, "peak": hwm(), "p50": statistics.median(times), "total": sum(times)}))
"""


def engine_run(engine: str, path: str, capacity: int, batches: int, logits: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", GLOG_minloglevel="2")
    r = subprocess.run([PY, "-c", WORKER, engine, path, str(capacity), str(batches), logits], capture_output=True,
                       text=True, env=env, timeout=3600)
    if r.returncode:
        raise SystemExit(f"{engine} (capacity {capacity}) failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="run every engine this many times, in "
                        "turn; the table shows the largest peak and the median p50 (noise moves a single p50 by 10%%)")
    parser.add_argument("--bfloat16", action="store_true", help="add the capped Predictor in bfloat16 (CPUs with "
                        "AVX512-BF16 or AMX)")
    parser.add_argument("--capacities", default="0,1,2,4,8,16", help="0: uncapped (oneDNN's default); 16 is the "
                        "bucket count of a 512-position model at the default step")
    args = parser.parse_args(argv)
    served = build("distilroberta-base")
    source = os.path.join(CACHE, "roberta-cls-distilroberta-base-hf")
    print(f"# serving memory, {time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} CPUs, 2 threads, "
          f"{args.batches} batches of 1-8 texts x 1-512 tokens\n")
    print(f"{args.rounds} round(s): peaks are the largest, p50 and total the median of the rounds (each round's p50 "
          "in parentheses)\n")
    print("| engine | peak RSS after loading MiB | peak RSS after the load MiB | x torch | p50 s/batch | "
          "x uncapped | total s | max abs diff vs torch |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [("torch eager", "torch", source, 0)]
    rows += [(f"Predictor, cache_capacity={c}" if c else "Predictor, uncapped", "paddle", served, c)
             for c in (int(c) for c in args.capacities.split(","))]
    if args.bfloat16:
        from paddle_roberta.serving.predictor import CACHE_CAPACITY

        rows.append((f"Predictor, bfloat16, cache_capacity={CACHE_CAPACITY}", "paddle-bf16", served, CACHE_CAPACITY))
    runs = {label: [] for label, *_ in rows}
    for _ in range(args.rounds):
        for label, engine, path, capacity in rows:
            out = os.path.join(CACHE, f"logits-{engine}-{capacity}.npy")
            runs[label].append(dict(engine_run(engine, path, capacity, args.batches, out), logits=np.load(out)))
    reference, torch_peak = runs[rows[0][0]][0]["logits"], max(r["peak"] for r in runs[rows[0][0]])
    uncapped = statistics.median(r["p50"] for r in runs["Predictor, uncapped"]) if "Predictor, uncapped" in runs else 0
    for label, *_ in rows:
        done = runs[label]
        peak, p50 = max(r["peak"] for r in done), statistics.median(r["p50"] for r in done)
        total = statistics.median(r["total"] for r in done)
        ratio = f"{p50 / uncapped:.2f}" if uncapped and label != rows[0][0] else ""
        each = ", ".join(f"{r['p50']:.3f}" for r in done)
        print(f"| {label} | {max(r['loaded'] for r in done)} | {peak} | {peak / torch_peak:.2f} | {p50:.3f} "
              f"({each}) | {ratio} | {total:.1f} | "
              f"{max(float(np.abs(r['logits'] - reference).max()) for r in done):.1e} |", flush=True)


if __name__ == "__main__":
    main()
