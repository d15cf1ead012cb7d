"""The README's sentence-embedding parity table: each body x pooling x Dense/Normalize that tests/test_sentence.py
covers, converted and exported, against sentence-transformers' encode on the same texts (with and without a
prompt, several over max_seq_length 16). Prints markdown: the worst max abs diff and the worst pairwise cosine
difference of ``SentenceEncoder`` and of the Paddle Inference export. Not a test (the tests judge the same bars).

    .venv/bin/python bench/sentence_parity.py
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from test_sentence import CONFIGS, PIPELINES, TEXTS  # noqa: E402  -- the tests' models and texts


def main():
    import paddlenlp.utils.log

    paddlenlp.utils.log.logger.set_level("ERROR")
    from paddle_roberta import SentenceEncoder, convert, export_inference
    from paddle_roberta.dev.synthetic import build_sentence_transformer
    from paddle_roberta.parity.sentence import cosines, cosines_agree, reference_embeddings
    from paddle_roberta.serving import Predictor

    print("| body | pipeline | embedding bar (1e-5 × max(1, max abs)) | SentenceEncoder max abs | "
          "SentenceEncoder worst "
          "cosine | export max abs | export worst cosine | within (1e-6, or vs float64 ≤ 2 × torch's own float32) |")
    print("|---|---|---|---|---|---|---|---|")
    worst = np.zeros(4)
    for family in CONFIGS:
        for i, pipeline in enumerate(PIPELINES):
            with tempfile.TemporaryDirectory() as tmp:
                st = build_sentence_transformer(os.path.join(tmp, "st"), family, CONFIGS[family], seed=i,
                                                max_seq_length=16,
                                                prompts={"query": "query: "}, **pipeline)
                convert(os.path.join(tmp, "st"), os.path.join(tmp, "out"), verify=False)
                export_inference(os.path.join(tmp, "out"), os.path.join(tmp, "served"), verify=False)
                engines = (SentenceEncoder(os.path.join(tmp, "out")), Predictor(os.path.join(tmp, "served")))
                row, bar, within = np.zeros(4), 0.0, True
                for prompt_name in (None, "query"):
                    want = reference_embeddings(st, TEXTS, prompt_name=prompt_name)
                    exact = reference_embeddings(st, TEXTS, "float64", prompt_name=prompt_name)
                    bar = max(bar, 1e-5 * max(1.0, float(np.abs(want).max())))
                    for k, engine in enumerate(engines):
                        got = engine.encode(TEXTS, prompt_name=prompt_name, batch_size=4)
                        within = within and cosines_agree(want, exact, got)[0] and \
                            np.abs(want - got).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))
                        row[2 * k] = max(row[2 * k], np.abs(want - got).max())
                        row[2 * k + 1] = max(row[2 * k + 1], np.abs(cosines(want) - cosines(got)).max())
                worst = np.maximum(worst, row)
                name = " + ".join(pipeline["modes"]) + "".join(f", Dense {o} {a}" for o,
                                                               a in pipeline.get("dense", ())) + \
                    (", Normalize" if pipeline.get("normalize") else "")
                print(f"| {family} | {name} | {bar:.1e} | " + " | ".join(f"{x:.1e}" for x in row) +
                      f" | {'yes' if within else 'NO'} |",
                      flush=True)
    print("| **all** | **worst** | | " + " | ".join(f"**{x:.1e}**" for x in worst) + " | |")


if __name__ == "__main__":
    main()
