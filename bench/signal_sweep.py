"""SIGINT and SIGTERM at every moment of each command: swept in steps across the whole run (the imports, the work, the
tracing, the rename), each run checked for exit 130 / 143 (or 0 when it had finished), one line on stderr, no
traceback, nothing left beside OUT, and OUT either absent or complete (its summary printed).

    .venv/bin/python bench/signal_sweep.py [--step 0.05] [--commands convert,verify,export-hf,export-inference,cache]

Prints a table per command and the runs that broke a rule; exit 1 if any did. tests/test_signals.py runs a coarse
sweep (a few moments per command) through ``sweep()``; the fine one is this script's default.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PY = sys.executable
CLI = [PY, "-m", "paddle_roberta"]
LINES = {signal.SIGINT: "paddle-roberta: interrupted", signal.SIGTERM: "paddle-roberta: terminated (SIGTERM)"}


def build(root: str) -> dict:
    """A small RoBERTa classifier, its conversion: the sources the commands read."""
    from paddle_roberta.dev.seeds import SEEDS
    from paddle_roberta.dev.synthetic import build_checkpoint

    config = dict(SEEDS["distilroberta-base"].config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                  intermediate_size=40, vocab_size=700, num_labels=3)
    hf, pd = os.path.join(root, "hf"), os.path.join(root, "pd")
    build_checkpoint(hf, "RobertaForSequenceClassification", config, vocab="bpe")
    subprocess.run(CLI + ["convert", hf, pd, "--no-verify", "--quiet"], check=True, timeout=600)
    return {"hf": hf, "pd": pd}


def commands(src: dict, out: str) -> dict:
    return {
        "convert": ["convert", src["hf"], out],
        "verify": ["verify", src["hf"], src["pd"]],
        "export-hf": ["export", src["pd"], out],
        "export-inference": ["export", src["pd"], out, "--to", "inference"],
        "cache": ["cache", "list"],
    }


def handlers_in_place(pid: int) -> bool:
    """Whether the process catches SIGTERM (Linux: /proc/PID/status SigCgt): the package's first line has run.
    Before it, the interpreter's start-up holds Python's defaults, which no code of the package can change."""
    try:
        with open(f"/proc/{pid}/status") as f:
            caught = next(line for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def one(args: list, at: float, signum: int, workdir: str, out: str | None, from_handlers: bool = False) -> dict:
    """Run ``args``, send ``signum`` after ``at`` seconds (counted from the moment the package's handlers are in
    place when ``from_handlers``: a loaded machine can take longer than a moment to start the interpreter); what
    came of it."""
    before = sorted(os.listdir(workdir))
    proc = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir)
    while from_handlers and proc.poll() is None and not handlers_in_place(proc.pid):
        time.sleep(0.002)
    try:
        proc.wait(timeout=at)
    except subprocess.TimeoutExpired:
        proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=600)
    after = sorted(os.listdir(workdir))
    left = sorted(set(after) - set(before) - ({os.path.basename(out)} if out else set()))
    finished = proc.returncode == 0
    lines = [line for line in stderr.strip().splitlines() if line]
    problems = []
    if proc.returncode not in (0, 128 + signum):
        problems.append(f"exit {proc.returncode}")
    if not finished and lines != [LINES[signum]]:
        problems.append(f"stderr {lines[:3]}{' …' if len(lines) > 3 else ''}")
    if "Traceback" in stderr:
        problems.append("traceback")
    if left:
        problems.append(f"left {left}")
    if out and os.path.exists(out):
        if not os.path.isfile(os.path.join(out, "conversion.json")):
            problems.append("OUT incomplete")
        elif not finished and "complete" not in stderr:
            problems.append("OUT in place, not said")
        shutil.rmtree(out)
    return {"at": at, "signal": signal.Signals(signum).name, "exit": proc.returncode, "finished": finished,
            "problems": problems}


def sweep(src: dict, workdir: str, name: str, moments, signals=(signal.SIGINT, signal.SIGTERM),
          from_handlers: bool = False) -> list:
    out = os.path.join(workdir, "out")
    args = commands(src, out)[name]
    return [one(args, at, s, workdir, None if name in ("verify", "cache") else out, from_handlers)
            for at in moments for s in signals]


def duration(src: dict, workdir: str, name: str) -> float:
    out = os.path.join(workdir, "out")
    start = time.perf_counter()
    subprocess.run(CLI + commands(src, out)[name], capture_output=True, timeout=600, cwd=workdir)
    if os.path.exists(out):
        shutil.rmtree(out)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.05, help="seconds between two moments (default 0.05)")
    parser.add_argument("--commands", default="convert,verify,export-hf,export-inference,cache")
    parser.add_argument("--slack", type=float, default=1.3, help="sweep up to this many times the command's measured "
                        "duration (a loaded machine runs it slower than its timed run: default 1.3)")
    args = parser.parse_args(argv)
    print(f"# signal sweep, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, step {args.step} s\n")
    bad = 0
    with tempfile.TemporaryDirectory() as root:
        src = build(root)
        for name in args.commands.split(","):
            workdir = tempfile.mkdtemp(dir=root)
            total = duration(src, workdir, name)
            moments = [round(i * args.step, 3) for i in range(1, int(total * args.slack / args.step) + 2)]
            runs = sweep(src, workdir, name, moments)
            broken = [r for r in runs if r["problems"]]
            bad += len(broken)
            done = sum(r["finished"] for r in runs)
            print(f"| {name} | {total:.1f} s | {len(runs)} runs | {len(runs) - done} interrupted, {done} finished "
                  f"| {len(broken)} broke a rule |")
            for r in broken:
                print(f"  {r['signal']} at {r['at']} s: exit {r['exit']}; {'; '.join(r['problems'])}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
