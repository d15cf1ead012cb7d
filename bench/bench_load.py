"""Serving under load (issue 21): torch eager, onnxruntime and Paddle Inference on one mixed-length workload.

    make bench-serving     # runs bench_serving.py, then this; or: .venv/bin/python bench/bench_load.py [--requests 60]

The model: the distilroberta-base shape (bench_convert.py's checkpoint) as RobertaForSequenceClassification, 3
labels (its head freshly initialised: speed and memory only). Engines, each in its own process, 2 threads:
- torch eager (transformers, no_grad);
- onnxruntime (CPU provider, intra-op 2 threads): the torch model exported with ``torch.onnx.export``
  (TorchScript exporter, opset 17, dynamic batch and sequence) in a process of its own beforehand;
- Paddle Inference through ``serving.Predictor`` as shipped (oneDNN, length buckets of 32 tokens), and the same
  without buckets (what every earlier version did).
Workload: --requests requests, each a batch of 1 to 8 texts of one of 50 lengths from 8 to 512 tokens (all
real tokens), drawn once with a fixed seed. Each engine runs it three times: a warm-up pass, a measured pass
(p50 and p99 of the request latency; "same-shape p99/p50": the p99 over requests of latency / the median
latency of requests of the same batch x length, which is what a cache miss at a known shape shows), then
the same requests from 4 client threads at once (requests/s). Fixed shapes: 1x16 and 8x128, median of 5.
Peak RSS: VmHWM of the engine's process at the end. Prints markdown; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_convert import CACHE, build  # noqa: E402

PY = sys.executable
THREADS = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "GLOG_minloglevel": "2"}
DISTIL = "distilroberta-base shape (.bin)"
ENGINES = ["torch eager", "onnxruntime", "Paddle Inference (buckets of 32)", "Paddle Inference (no buckets)"]

CLASSIFIER = r"""
import sys, transformers
m = transformers.RobertaForSequenceClassification.from_pretrained(sys.argv[1], num_labels=3)
m.save_pretrained(sys.argv[2])
"""
ONNX = r"""
import sys, torch, transformers
m = transformers.RobertaForSequenceClassification.from_pretrained(sys.argv[1]).eval()
ids = torch.randint(5, 1000, (2, 16)); axes = {0: "batch", 1: "seq"}
torch.onnx.export(m, (ids, torch.ones_like(ids)), sys.argv[2], input_names=["input_ids", "attention_mask"],
                  output_names=["logits"],
                  dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
                  opset_version=17, dynamo=False)
"""
WORKLOAD = r"""
import json, statistics, sys, threading, time
import numpy as np
engine, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if engine == "torch eager":
    import torch, transformers
    torch.set_num_threads(2)
    m = transformers.RobertaForSequenceClassification.from_pretrained(path).eval()
    def run(ids, mask):
        with torch.no_grad():
            return m(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
elif engine == "onnxruntime":
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    def run(ids, mask):
        return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
else:
    from paddle_roberta.serving import Predictor
    p = Predictor(path, threads=2, buckets=None if "no buckets" in engine else 32)
    def run(ids, mask):
        return p.run({"input_ids": ids, "attention_mask": mask})["logits"]
rng = np.random.default_rng(0)
lengths = np.linspace(8, 512, 50).astype(int).tolist()
reqs = [(int(rng.integers(1, 9)), int(rng.choice(lengths))) for _ in range(n)]
data = [(rng.integers(5, 1000, (b, s)).astype(np.int64), np.ones((b, s), np.int64)) for b, s in reqs]
out = {}
for b, s in [(1, 16), (8, 128)]:
    ids, mask = np.random.default_rng(1).integers(5, 1000, (b, s)).astype(np.int64), np.ones((b, s), np.int64)
    run(ids, mask)
    times = []
    for _ in range(5):
        t = time.perf_counter(); run(ids, mask); times.append(time.perf_counter() - t)
    out[f"{b}x{s}"] = statistics.median(times)
for ids, mask in data:  # warm-up pass
    run(ids, mask)
lat = []
for ids, mask in data:
    t = time.perf_counter(); run(ids, mask); lat.append(time.perf_counter() - t)
by_shape = {}
for shape, x in zip(reqs, lat):
    by_shape.setdefault(shape, []).append(x)
ratios = [x / statistics.median(v) for v in by_shape.values() if len(v) > 1 for x in v]
out.update(p50=float(np.percentile(lat, 50)), p99=float(np.percentile(lat, 99)),
           same_shape=float(np.percentile(ratios, 99)) if ratios else float("nan"), repeated=len(ratios))
todo, lock = list(range(len(data))), threading.Lock()
def client():
    while True:
        with lock:
            if not todo:
                return
            i = todo.pop()
        run(*data[i])
t = time.perf_counter()
clients = [threading.Thread(target=client) for _ in range(4)]
for c in clients: c.start()
for c in clients: c.join()
out["rps"] = len(data) / (time.perf_counter() - t)
out["rss"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) // 1024
print(json.dumps(out))
"""


def _run(args, env=None):
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **THREADS, **(env or {})})
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args[:3])}\n{r.stderr[-3000:]}")
    return r.stdout


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                "unknown CPU")
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    return f"{name}, {'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"2 threads for every engine, {args.requests} requests of 1-8 texts x 50 lengths 8..512\n", flush=True)
    from paddle_roberta import convert
    from paddle_roberta.export_inference import export_inference

    os.makedirs(CACHE, exist_ok=True)
    body, _ = build(DISTIL)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        src, onnx = os.path.join(work, "classifier"), os.path.join(work, "model.onnx")
        pd, served = os.path.join(work, "paddle"), os.path.join(work, "served")
        _run([PY, "-c", CLASSIFIER, body, src])
        _run([PY, "-c", ONNX, src, onnx])
        convert(src, pd, verify=False)
        export_inference(pd, served, verify=False)
        paths = {"torch eager": src, "onnxruntime": onnx}
        results = {}
        for engine in ENGINES:
            stdout = _run([PY, "-c", WORKLOAD, engine, paths.get(engine, served), str(args.requests)])
            results[engine] = json.loads(stdout.strip().splitlines()[-1])
            print(f"  {engine}: done", file=sys.stderr, flush=True)
    print("| engine | 1x16 s | 8x128 s | mixed p50 s | mixed p99 s | same-shape p99/p50 | requests/s (4 clients) | "
          "peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for engine, r in results.items():
        print(f"| {engine} | {r['1x16']:.4f} | {r['8x128']:.3f} | {r['p50']:.3f} | {r['p99']:.3f} | "
              f"{r['same_shape']:.2f} "
              f"| {r['rps']:.2f} | {r['rss']} |")
    ours, torch_r, ort = results[ENGINES[2]], results["torch eager"], results["onnxruntime"]
    print()
    print(f"- peak RSS, Paddle Inference (buckets) / torch eager: {ours['rss'] / torch_r['rss']:.2f}x "
          f"(target <= 1.5x): "
          f"{verdict(ours['rss'] <= 1.5 * torch_r['rss'])}")
    print(f"- same-shape p99/p50, Paddle Inference (buckets): {ours['same_shape']:.2f} (target <= 1.2): "
          f"{verdict(ours['same_shape'] <= 1.2)}")
    for key, label in (("1x16", "1x16"), ("8x128", "8x128"), ("p50", "mixed-length p50")):
        print(f"- {label}, Paddle Inference / onnxruntime: {ours[key] / ort[key]:.2f}x (target <= 1.0x): "
              f"{verdict(ours[key] <= ort[key])}")
    print(f"- requests/s from 4 clients, Paddle Inference / onnxruntime: {ours['rps'] / ort['rps']:.2f}x "
          f"(target >= 1.0x): "
          f"{verdict(ours['rps'] >= ort['rps'])}")


if __name__ == "__main__":
    main()
