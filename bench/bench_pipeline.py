"""The task pipeline's overhead over the bare model call: tokenizing each text, padding and the answers' assembly,
against running the same already-tokenized batch (issue 31's target: <= 10% at batch 8 x 128 tokens).

    .venv/bin/python bench/bench_pipeline.py [--runs 7]

A distilroberta-base-shaped RobertaForSequenceClassification (6 x 768; vocabulary 8000, which changes only the
embedding lookup), random trained-looking weights, converted and exported once into a temporary folder; both
backends (dygraph, and Paddle Inference through Predictor); medians after one warm-up call, the two calls
timed in turn. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_convert import cpu_model  # noqa: E402


def timed(calls, runs):
    """Median seconds of each of ``calls``, run in turn (so that a slower minute of a shared machine hits both)."""
    for call in calls:
        call()
    times = [[] for _ in calls]
    for _ in range(runs):
        for call, spent in zip(calls, times):
            start = time.perf_counter()
            call()
            spent.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    from paddle_roberta import convert, export_inference, pipeline
    from paddle_roberta.dev.seeds import SEEDS
    from paddle_roberta.dev.synthetic import build_checkpoint

    print(f"# pipeline overhead, {time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} CPUs, batch 8 x 128 "
          f"tokens, medians of {args.runs}\n")
    print("| backend | model call s | pipeline s | overhead |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as root:
        config = dict(SEEDS["distilroberta-base"].config, vocab_size=8000, num_labels=3)
        build_checkpoint(os.path.join(root, "hf"), "RobertaForSequenceClassification", config, vocab="bpe")
        convert(os.path.join(root, "hf"), os.path.join(root, "pd"), verify=False)
        export_inference(os.path.join(root, "pd"), os.path.join(root, "served"), verify=False)
        words = "the quick brown fox jumps over the lazy dog while 北京 and 上海 watch".split()
        texts = [" ".join(words[(i + j) % len(words)] for j in range(200)) for i in range(8)]
        for name, path in (("dygraph", "pd"), ("Paddle Inference (Predictor)", "served")):
            pipe = pipeline("text-classification", os.path.join(root, path), truncation=True, max_length=128,
                            batch_size=8)
            feed, _ = pipe.runner.tokenize(texts, None, True, 128)
            assert feed["input_ids"].shape == (8, 128), feed["input_ids"].shape
            bare, whole = timed([lambda: pipe.runner.run(feed), lambda: pipe(texts)], args.runs)  # noqa: B023
            print(f"| {name} | {bare:.3f} | {whole:.3f} | {whole / bare - 1:+.1%} |")


if __name__ == "__main__":
    main()
