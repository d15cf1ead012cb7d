"""Serving engines side by side in one run (issue 32): torch eager, onnxruntime on torch's own ONNX, onnxruntime on
this tool's ONNX (``export --to onnx``) in float32 and int8 (``--quantize int8``), Paddle Inference in float32 and
bfloat16 (where the CPU has AVX512-BF16 or AMX).

    .venv/bin/python bench/bench_engines.py [--runs 5]

The model is bench_predictor_threads.py's distilroberta-base-shaped RoBERTa classifier (random trained-looking weights,
built once in bench/.cache/ with its exports). Each engine runs in its own process with 2 threads: load, then per
shape (batch x tokens: 1x16, 8x128, 16x256) one warm-up and --runs timed runs on the same random ids (full attention
mask); the table shows the median time and its ratio to torch eager, each engine's peak RSS, and how far its logits
are from torch's (max abs diff over the three shapes; top-1 agreement). The header names the CPU and its flags.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_predictor_threads import CACHE, build  # noqa: E402

PY = sys.executable
SHAPES = [(1, 16), (8, 128), (16, 256)]
SRC = os.path.join(CACHE, "roberta-cls-distilroberta-base-hf")
PADDLE = os.path.join(CACHE, "roberta-cls-distilroberta-base-paddle")
ONNX, INT8 = os.path.join(CACHE, "roberta-cls-onnx"), os.path.join(CACHE, "roberta-cls-onnx-int8")
TORCH_ONNX = os.path.join(CACHE, "roberta-cls-torch.onnx")

# One engine in one process; prints JSON (times per shape, peak RSS) and saves the logits.
WORKER = r"""
import json, statistics, sys, time
import numpy as np
engine, path, shapes, runs, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(0)
feeds = [(rng.integers(5, 50000, (b, n)).astype(np.int64), np.ones((b, n), np.int64)) for b, n in shapes]
if engine == "torch":
    import torch, transformers
    torch.set_num_threads(2)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    def run(ids, mask):
        with torch.no_grad():
            return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
elif engine == "ort-torch":
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = 2, 1, 3
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    def run(ids, mask):
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
else:
    from paddle_roberta.serving import Predictor
    precision = {"paddle": "float32", "paddle-bf16": "bfloat16", "ort": "float32", "ort-int8": "int8"}[engine]
    predictor = Predictor(path, threads=2, buckets=None, precision=precision)
    def run(ids, mask):
        return predictor.run({"input_ids": ids, "attention_mask": mask})["logits"]
times, logits = [], []
for ids, mask in feeds:
    logits.append(run(ids, mask))
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        run(ids, mask)
        spent.append(time.perf_counter() - start)
    times.append(statistics.median(spent))
np.save(out, np.concatenate(logits))
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) // 1024
print(json.dumps({"times": times, "peak": peak}))
"""


def prepare(bf16: bool):
    """The exports the engines load, each made once."""
    served = build("distilroberta-base")
    from paddle_roberta.export_inference import export_inference

    if not os.path.isfile(os.path.join(ONNX, "inference.json")):
        export_inference(PADDLE, ONNX, to="onnx", overwrite=True)
    if not os.path.isfile(os.path.join(INT8, "inference.json")):
        export_inference(PADDLE, INT8, to="onnx", quantize="int8", overwrite=True)
    if not os.path.isfile(TORCH_ONNX):
        subprocess.run([PY, "-c", TORCH_EXPORT, SRC, TORCH_ONNX], check=True, capture_output=True)
    engines = [("torch eager", "torch", SRC), ("onnxruntime, torch's ONNX", "ort-torch", TORCH_ONNX),
               ("onnxruntime, this tool's ONNX", "ort", ONNX),
               ("onnxruntime, int8 (--quantize int8)", "ort-int8", INT8),
               ("Paddle Inference float32", "paddle", served)]
    if bf16:
        engines.append(("Paddle Inference bfloat16", "paddle-bf16", served))
    return engines


TORCH_EXPORT = r"""
import sys, torch, transformers
model = transformers.AutoModelForSequenceClassification.from_pretrained(sys.argv[1]).eval()
ids = torch.ones(2, 8, dtype=torch.long)
axes = {0: "batch", 1: "seq"}
torch.onnx.export(model, (ids, torch.ones_like(ids)), sys.argv[2], dynamo=False, opset_version=17,
                  input_names=["input_ids", "attention_mask"], output_names=["logits"],
                  dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}})
"""


def main(argv=None):
    import numpy as np

    from paddle_roberta.serving.precision import BF16_FLAGS, cpu_flags

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    model, flags = cpu_flags()
    bf16 = bool(flags & set(BF16_FLAGS))
    shown = sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "avx_vnni", "fma"))
    engines = prepare(bf16)
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", GLOG_minloglevel="2")
    print(f"# serving engines, {time.strftime('%Y-%m-%d')}, {model} ({os.cpu_count()} CPUs; {' '.join(shown)}), "
          f"2 threads each, medians of {args.runs} runs\n")
    if not bf16:
        print("(no AVX512-BF16 or AMX-BF16 here: bfloat16 not run)\n")
    print("| engine | " + " | ".join(f"{b}x{n} s (x torch)" for b, n in SHAPES) + " | peak RSS MiB | max abs diff vs "
          "torch | top-1 same |")
    print("|---|" + "---|" * len(SHAPES) + "---|---|---|")
    base, reference = None, None
    for label, engine, path in engines:
        out = os.path.join(CACHE, f"engine-{engine}.npy")
        r = subprocess.run([PY, "-c", WORKER, engine, path, json.dumps(SHAPES), str(args.runs), out],
                           capture_output=True, text=True, env=env, timeout=3600)
        if r.returncode:
            print(f"| {label} | failed: {r.stderr.strip().splitlines()[-1][:200]} |")
            continue
        result, logits = json.loads(r.stdout.strip().splitlines()[-1]), np.load(out)
        if base is None:
            base, reference = result["times"], logits
        cells = [f"{t:.4f} ({t / b:.2f})" for t, b in zip(result["times"], base)]
        top1 = float((logits.argmax(-1) == reference.argmax(-1)).mean())
        print(f"| {label} | {' | '.join(cells)} | {result['peak']} | {float(np.abs(logits - reference).max()):.1e} | "
              f"{top1:.1%} |", flush=True)


if __name__ == "__main__":
    main()
