"""Load every converted case under a stable PaddleNLP (2.x) and compare with the torch outputs saved beside it.

    .venv-stable/bin/python tests/stable/check_stable.py DIR [--json FILE]

Runs in the stable environment (constraints-stable.txt: paddlepaddle 2.6.2, paddlenlp 2.8.1), which has
no torch, transformers or paddle_roberta: it reads only the files make_cases.py wrote. For each family x
head x output format: the named class and AutoModel load with no flags, every parameter equals the file
(nothing initialised), every hidden state and head output is within the bar of `verify` at the real
tokens, and AutoTokenizer gives transformers' ids on the ordinary texts (the Unicode texts are reported,
not judged). A class this PaddleNLP does not have at all (XLM-RoBERTa before 3.0) is reported as such;
any other failure exits 1. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np

ATOL = 1e-5  # verify's bar: |a - b| <= ATOL * max(1, max|a|, max|last hidden| for head outputs)


def causal_additive_mask(mask):
    """As paddle_roberta.parity.compare.causal_additive_mask (this environment cannot import the package)."""
    seq = mask.shape[-1]
    allowed = np.tril(np.ones((seq, seq), dtype=bool))[None, None] & mask[:, None, None, :].astype(bool)
    return np.where(allowed, 0.0, -1e4).astype(np.float32)


def read_weights(folder):
    st = os.path.join(folder, "model.safetensors")
    if os.path.exists(st):
        from safetensors.numpy import load_file

        return load_file(st)
    import paddle

    return {k: v.numpy() for k, v in paddle.load(os.path.join(folder, "model_state.pdparams")).items()}


def run(model, feed):
    import paddle

    model.eval()
    with paddle.no_grad():
        out = model(**{k: paddle.to_tensor(v) for k, v in feed.items()}, output_hidden_states=True, return_dict=True)
    return {k: ([t.numpy() for t in v] if isinstance(v, (list, tuple)) else v.numpy())
            for k, v in out.items() if v is not None and k not in ("past_key_values", "attentions", "loss")}


def worst(pairs, real):
    """max over (torch, paddle, per_token, is_head) of |a - b| / bar: <= 1 passes."""
    last = np.abs(pairs[-1][0][real]).max() if pairs and pairs[-1][2] else 1.0
    ratio, abs_diff = 0.0, 0.0
    for a, b, per_token, is_head in pairs:
        if per_token:
            a, b = a[real], b[real]
        d = float(np.abs(a - b.reshape(a.shape)).max())
        bar = ATOL * max(1.0, float(np.abs(a).max()), float(last) if is_head else 0.0)
        ratio, abs_diff = max(ratio, d / bar), max(abs_diff, d)
    return abs_diff, ratio


def check_case(case_dir, fmt):
    import paddlenlp.transformers as pt

    meta = json.load(open(os.path.join(case_dir, "case.json"), encoding="utf-8"))
    out = os.path.join(case_dir, f"paddle-{fmt}")
    saved = np.load(os.path.join(case_dir, "torch.npz"))
    row = {"case": f"{meta['family']} {meta['paddle_class']}", "format": fmt}
    cls = getattr(pt, meta["paddle_class"], None)
    if cls is None:
        return dict(row, status="no such class in this PaddleNLP")
    try:
        model = cls.from_pretrained(out)
        auto = pt.AutoModel.from_pretrained(out)
    except Exception as e:
        return dict(row, status=f"FAIL: does not load ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
    weights = read_weights(out)
    for m, prefix in ((model, ""), (auto, "" if meta["head"] == "Model" else meta["base_prefix"])):
        for name, value in m.state_dict().items():
            key = name if name in weights else prefix + name
            if key not in weights or not np.array_equal(value.numpy(), weights[key]):
                return dict(row, status=f"FAIL: {type(m).__name__}.{name} is not the file's value (initialised?)")

    inputs = {k[len("input:"):]: saved[k] for k in saved.files if k.startswith("input:")}
    feed = dict(inputs)
    if meta["causal_mask"]:
        feed["attention_mask"] = causal_additive_mask(inputs["attention_mask"])
    got = run(model, feed)
    real = inputs["attention_mask"].reshape(-1, inputs["attention_mask"].shape[-1]).astype(bool)
    hidden = [saved[f"hidden_states[{i}]"] for i in range(len(got["hidden_states"]))]
    pairs = [(h, g, True, False) for h, g in zip(hidden, got["hidden_states"])]
    pairs += [(saved[f"output:{t}"], got[p], per_token, True) for t, p, per_token in meta["outputs"]]
    abs_diff, ratio = worst(pairs, real)

    flat = {k: v.reshape(-1, v.shape[-1]) for k, v in inputs.items()}
    if meta["causal_mask"]:
        flat["attention_mask"] = causal_additive_mask(flat["attention_mask"])
    auto_hidden = run(auto, flat)["hidden_states"]
    auto_abs, auto_ratio = worst([(h, g, True, False) for h, g in zip(hidden, auto_hidden)], real)

    tok = pt.AutoTokenizer.from_pretrained(out)
    agree = {kind: [t for t, ids in texts if tok(t)["input_ids"] == ids] for kind, texts in meta["texts"].items()}
    differs = [t for t, _ in meta["texts"]["unicode"] if t not in agree["unicode"]]
    ok = ratio <= 1 and auto_ratio <= 1 and len(agree["ordinary"]) == len(meta["texts"]["ordinary"])
    return dict(row, status="ok" if ok else "FAIL", worst_abs=max(abs_diff, auto_abs),
                worst_of_bar=max(ratio, auto_ratio),
                tokenizer=type(tok).__name__, ordinary=f"{len(agree['ordinary'])}/{len(meta['texts']['ordinary'])}",
                unicode=f"{len(agree['unicode'])}/{len(meta['texts']['unicode'])}", unicode_differs=differs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import paddle
    import paddlenlp
    import paddlenlp.utils.log as log

    log.logger.set_level("ERROR")
    rows = [check_case(os.path.join(args.root, c), fmt) for c in sorted(os.listdir(args.root))
            if os.path.isfile(os.path.join(args.root, c, "case.json")) for fmt in ("safetensors", "pdparams")]
    print(f"PaddleNLP {paddlenlp.__version__} on paddlepaddle {paddle.__version__}\n")
    print("| case | output | result | worst abs diff | worst / bar | tokenizer | ordinary texts | Unicode texts |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['format']} | {r['status']} | {r.get('worst_abs', 0):.1e} | "
              f"{r.get('worst_of_bar', 0):.2f} | "
              f"{r.get('tokenizer', '')} | {r.get('ordinary', '')} | {r.get('unicode', '')} |")
    differs = sorted({t for r in rows for t in r.get("unicode_differs", [])})
    print(f"\nUnicode texts whose ids differ from transformers' (reported, not judged): {differs}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"paddlenlp": paddlenlp.__version__, "paddle": paddle.__version__, "rows": rows}, f,
                      ensure_ascii=False, indent=1)
    failed = [r for r in rows if r["status"].startswith("FAIL")]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} ok or not in this PaddleNLP; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
