"""One serving.Predictor shared by 4 or 8 threads: one worker thread vs a lock per call vs a clone per thread.

    .venv/bin/python bench/bench_predictor_threads.py [--seconds 20] [--rounds 2] [--shape distilroberta-base|tiny]

Builds (once, cached in bench/.cache/) a random distilroberta-base-shaped RobertaForSequenceClassification
(6 layers x 768, vocab 50265, 2 labels), converts it and exports it with ``export --to inference``. Each
mode then runs in its own process: load, then each calling thread sends batch-1 requests of 16, 32, 64 and
128 tokens in turn (every thread sees every shape, as a server does) for --seconds after one warm-up round.
Three ways to share one Predictor: serving.Predictor's (every run handed to one worker thread), a lock
around each run on the caller's thread, and one predictor.clone() per calling thread; 1 (serving.Predictor
only), 4 and 8 calling threads. Prints requests per second, the process's RSS after loading and while
serving, and its peak RSS (VmHWM), and the process's CPU time per request (user + system, all threads):
on a shared machine requests/s depends on what else runs, and a process with more runnable threads gets a
larger share of the cores; CPU time per request is the cost a dedicated machine would pay
(2 cores / CPU time per request bounds its requests/s). Every output is checked against a one-thread run; "load avg" is
the machine's
1-minute load average after the mode ran (other work on a shared machine slows every mode). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
SHAPES = {
    "distilroberta-base": dict(vocab_size=50265, hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                               intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                               layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=2),
    "tiny": dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                 max_position_embeddings=258, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                 bos_token_id=0, eos_token_id=2, num_labels=2),
}
LENGTHS = [16, 32, 64, 128]

# One mode in one process; prints JSON.
WORKER = r"""
import json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from paddle_roberta.serving import Predictor

mode, path, seconds, n_threads, lengths = (sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]),
                                           json.loads(sys.argv[5]))

def status(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key + ":")) // 1024

class ClonePerThread(Predictor):
    # each thread runs its own clone (documented to share the weights)
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def run(self, feed):
        values = self._inputs(feed)
        p = getattr(self._local, "predictor", None)
        if p is None:
            with self._lock:
                p = self._local.predictor = self._predictor.clone()
        return self._run_on(p, values)

class LockPerCall(Predictor):
    # serialised by a lock instead: each calling thread runs the predictor itself
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._call_lock = threading.Lock()

    def run(self, feed):
        values = self._inputs(feed)
        with self._call_lock:
            return self._run_on(self._predictor, values)

p = {"clone": ClonePerThread, "lock": LockPerCall}.get(mode.split()[0], Predictor)(path)
loaded = status("VmRSS")
feeds = [{"input_ids": np.random.default_rng(n).integers(5, 1000, (1, n)).astype(np.int64),
          "attention_mask": np.ones((1, n), np.int64)} for n in lengths]
want = []  # the check below: every output as one thread (the first) computed it before the others start
done, wrong = [[] for _ in range(n_threads)], [0]
start, stop = threading.Barrier(n_threads + 1), threading.Event()

def serve(i):
    if i == 0:
        want.extend(p.run(f)["logits"] for f in feeds)
    for f in feeds:  # warm-up round: every shape once (and the clone made)
        p.run(f)
    start.wait()
    k = i
    while not stop.is_set():
        got = p.run(feeds[k % len(feeds)])["logits"]
        if not np.allclose(got, want[k % len(feeds)], rtol=1e-5, atol=1e-6):
            wrong[0] += 1
        done[i].append(time.perf_counter())
        k += 1

threads = [threading.Thread(target=serve, args=(i,)) for i in range(n_threads)]
for t in threads:
    t.start()
start.wait()
t0, cpu0 = time.perf_counter(), os.times()
time.sleep(seconds)
serving_rss = status("VmRSS")  # while every thread is still serving
t1, cpu1 = time.perf_counter(), os.times()
stop.set()
for t in threads:
    t.join()
n = sum(1 for d in done for t in d if t <= t1)
cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
print(json.dumps({"requests": n, "per_s": n / (t1 - t0), "cpu_ms": 1000 * cpu / max(n, 1), "loaded_rss": loaded,
                  "serving_rss": serving_rss,
                  "peak_rss": status("VmHWM"), "wrong": wrong[0]}))
"""


def build(shape: str) -> str:
    """The exported model's folder, built once."""
    served = os.path.join(CACHE, f"roberta-cls-{shape}-inference")
    if os.path.isfile(os.path.join(served, "inference.json")):
        return served
    from paddle_roberta import convert
    from paddle_roberta.dev.synthetic import build_checkpoint
    from paddle_roberta.export_inference import export_inference

    src, out = os.path.join(CACHE, f"roberta-cls-{shape}-hf"), os.path.join(CACHE, f"roberta-cls-{shape}-paddle")
    print(f"building {served} (once) ...", file=sys.stderr)
    if not os.path.isfile(os.path.join(src, "config.json")):
        build_checkpoint(src, "RobertaForSequenceClassification", SHAPES[shape], seed=3)
    convert(src, out, verify=False, overwrite=True)
    export_inference(out, served, verify=False, overwrite=True)
    return served


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--shape", choices=list(SHAPES), default="distilroberta-base")
    parser.add_argument("--rounds", type=int, default=2, help="every mode once per round, rounds one after another "
                        "(on a shared machine, a slow spell then hits every mode)")
    args = parser.parse_args(argv)
    os.makedirs(CACHE, exist_ok=True)
    served = build(args.shape)
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"paddle.inference with oneDNN, 2 math threads per predictor; {args.shape} shape "
          f"RobertaForSequenceClassification, batch-1 requests of {'/'.join(map(str, LENGTHS))} tokens, "
          f"{args.seconds:g} s per mode, {args.rounds} rounds\n")
    print("| mode | calling threads | requests/s | CPU ms per request | RSS after load MiB | RSS while serving MiB | "
          "peak RSS MiB | wrong outputs | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    modes = [(m, n) for n in (1, 4, 8)
             for m in ("serving.Predictor (one worker thread)", "lock per call", "clone per thread")
             if n > 1 or m.startswith("serving")]
    for mode, n in modes * args.rounds:
        r = subprocess.run([sys.executable, "-c", WORKER, mode, served, str(args.seconds), str(n), json.dumps(LENGTHS)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{r.stderr[-3000:]}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"| {mode} | {n} | {res['per_s']:.1f} | {res['cpu_ms']:.0f} | {res['loaded_rss']} | "
              f"{res['serving_rss']} | {res['peak_rss']} | "
              f"{res['wrong']} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
