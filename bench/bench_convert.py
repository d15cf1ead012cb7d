"""Conversion speed and memory, side by side with PaddleNLP's own path and with `cp`.

    make bench            # or: .venv/bin/python bench/bench_convert.py [--runs 3]

Checkpoints (random weights, built once with transformers and cached in bench/.cache/):
- clue-large shape: 24 layers, hidden 1024, vocab 21128, `model.safetensors` (~1.3 GB);
- distilroberta-base shape: RobertaForMaskedLM, `pytorch_model.bin` (~330 MB).
Each tool runs in its own process; wall time and peak RSS (ru_maxrss from wait4) are the medians
of --runs runs. "Above baseline" subtracts the peak RSS of a process that only imports the same
tool. Prints markdown tables; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
PY = sys.executable

CHECKPOINTS = {
    # model_type bert (not CLUE's "roberta") so that PaddleNLP's converter does the same BERT work
    "clue-large shape (safetensors)": ("BertModel", "safetensors", dict(
        model_type="bert", vocab_size=21128, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        intermediate_size=4096, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)),
    "distilroberta-base shape (.bin)": ("RobertaForMaskedLM", "bin", None),
}

PADDLENLP_CONVERT = """
import sys
from paddlenlp.transformers import {cls}
{cls}.from_pretrained(sys.argv[1], convert_from_torch=True)
"""
LOAD = """
import sys, time
import paddlenlp.transformers as pt
t = time.perf_counter(); pt.AutoModel.from_pretrained(sys.argv[1]); print(time.perf_counter() - t)
"""
FORWARD = """
import sys, time, json, numpy as np
which, path, cls = sys.argv[1], sys.argv[2], sys.argv[3]
ids = np.random.default_rng(0).integers(5, 1000, (8, 128)); mask = np.ones_like(ids)
if which == "torch":
    import torch, transformers
    torch.set_num_threads(2)
    m = getattr(transformers, cls).from_pretrained(path).eval()
    run = lambda: m(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    ctx = torch.no_grad
else:
    import paddle, paddlenlp.transformers as pt
    m = getattr(pt, cls).from_pretrained(path); m.eval()
    run = lambda: m(input_ids=paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask))
    ctx = paddle.no_grad
times = []
with ctx():
    run()
    for _ in range(5):
        t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
print(sorted(times)[2])
"""


def measure(cmd, env=None) -> tuple:
    """(wall seconds, peak RSS MiB, stdout) of one process."""
    # Every tool starts with no dirty pages left by the one before: each writes a GB or more,
    # and the kernel makes whichever process writes next wait for the previous one's writeback.
    os.sync()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


BUILD = """
import json, sys
from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint
config = json.loads(sys.argv[3]) or SEEDS["distilroberta-base"].config
build_checkpoint(sys.argv[1], sys.argv[2], config, fmt=sys.argv[4])
"""


def build(name):
    hf_class, fmt, config = CHECKPOINTS[name]
    path = os.path.join(CACHE, hf_class + "-" + fmt)
    if not os.path.exists(os.path.join(path, "config.json")):
        # in a child process: ru_maxrss counts a forked child's pages from before its exec, so
        # this process must stay small for the figures of the processes it starts
        print(f"building {name} in {path} (once) ...", file=sys.stderr)
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        measure([PY, "-c", BUILD, tmp, hf_class, json.dumps(config), fmt])
        os.rename(tmp, path)
    return path, hf_class


def size_mb(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)) / 2**20


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def bench(name, runs, work, convert_only=False):
    src, hf_class = build(name)
    weights = [f for f in os.listdir(src) if f.endswith((".safetensors", ".bin"))]
    rows = {}
    base_ours = statistics.median(measure([PY, "-c", "import paddle_roberta.cli, paddle_roberta.convert"])[1]
                                  for _ in range(runs))
    base_pd = statistics.median(measure([PY, "-c", "import paddlenlp.transformers"])[1] for _ in range(runs))
    ours, theirs, copies = [], [], []
    for i in range(runs):
        out = os.path.join(work, f"ours{i}")
        ours.append(measure([PY, "-m", "paddle_roberta", "convert", src, out, "--quiet", "--no-verify"]))
        copy = os.path.join(work, f"theirs{i}")
        shutil.copytree(src, copy)
        theirs.append(measure([PY, "-c", PADDLENLP_CONVERT.format(cls=hf_class), copy]))
        dst = os.path.join(work, f"cp{i}")
        os.makedirs(dst)
        copies.append(measure(["cp"] + [os.path.join(src, w) for w in weights] + [dst]))
    def med(xs, k):
        return statistics.median(x[k] for x in xs)

    rows["paddle-roberta convert"] = (med(ours, 0), med(ours, 1), med(ours, 1) - base_ours)
    rows["PaddleNLP from_pretrained(convert_from_torch=True)"] = (med(theirs, 0), med(theirs, 1),
                                                                  med(theirs, 1) - base_pd)
    rows["cp"] = (med(copies, 0), med(copies, 1), None)
    if convert_only:
        return src, weights, rows, None, None

    # PaddleNLP's converted directory: its config.json and the model_state.pdparams it cached beside the source
    theirs_out = os.path.join(work, "theirs-out")
    os.makedirs(theirs_out)
    for f in ("config.json", "model_state.pdparams"):
        shutil.copy(os.path.join(work, "theirs0", f), theirs_out)
    load_ours = statistics.median(float(measure([PY, "-c", LOAD, os.path.join(work, "ours0")])[2]) for _ in range(runs))
    load_theirs = statistics.median(float(measure([PY, "-c", LOAD, theirs_out])[2]) for _ in range(runs))
    paddle_class = "BertModel" if hf_class == "BertModel" else "RobertaForMaskedLM"
    fwd_torch = float(measure([PY, "-c", FORWARD, "torch", src, hf_class])[2])
    fwd_paddle = float(measure([PY, "-c", FORWARD, "paddle", os.path.join(work, "ours0"), paddle_class])[2])
    # paddle's CPU kernels use one OpenMP thread unless told otherwise; torch uses every core
    threads = {"OMP_NUM_THREADS": str(os.cpu_count())}
    fwd_paddle_mt = float(measure([PY, "-c", FORWARD, "paddle", os.path.join(work, "ours0"), paddle_class], threads)[2])
    return src, weights, rows, (load_ours, load_theirs), (fwd_torch, fwd_paddle, fwd_paddle_mt)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CHECKPOINTS), action="append")
    parser.add_argument("--convert-only", action="store_true", help="skip the load and forward-pass figures")
    args = parser.parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, "
          f"medians of {args.runs} runs\n")
    os.makedirs(CACHE, exist_ok=True)
    for name in args.only or CHECKPOINTS:
        with tempfile.TemporaryDirectory(dir=CACHE) as work:
            src, weights, rows, loads, fwd = bench(name, args.runs, work, args.convert_only)
            size = size_mb(src)
            ours_t = rows["paddle-roberta convert"][0]
            print(f"### {name}: {', '.join(weights)}, {size:.0f} MiB\n")
            print("| | wall s | peak RSS MiB | above own baseline MiB | above baseline / checkpoint |")
            print("|---|---|---|---|---|")
            for tool, (wall, rss, above) in rows.items():
                frac = f"{above / size:.0%}" if above is not None else ""
                print(f"| {tool} | {wall:.2f} | {rss:.0f} | {'' if above is None else f'{above:.0f}'} | {frac} |")
            theirs_t, cp_t = rows["PaddleNLP from_pretrained(convert_from_torch=True)"][0], rows["cp"][0]
            print(f"\nconvert: {theirs_t / ours_t:.1f}x faster than PaddleNLP's path, {ours_t / cp_t:.1f}x "
                  f"the time of cp\n")
            if loads is None:
                continue
            print(f"AutoModel load of the converted directory: {loads[0]:.2f} s (ours) vs {loads[1]:.2f} s "
                  f"(PaddleNLP's own .pdparams)")
            print(f"forward, batch 8 x 128, CPU: torch {fwd[0] * 1000:.0f} ms; converted Paddle model "
                  f"{fwd[1] * 1000:.0f} ms, "
                  f"{fwd[2] * 1000:.0f} ms with OMP_NUM_THREADS={os.cpu_count()}\n")


if __name__ == "__main__":
    main()
