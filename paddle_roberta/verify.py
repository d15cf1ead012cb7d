"""``paddle-roberta verify SRC OUT``: text in, both tokenizers, both models, every output compared.

Loads the torch original with transformers (the class matching the conversion: BertModel for a
CLUE checkpoint, as its model card does) and the converted directory with PaddleNLP, tokenizes
built-in sentences (Chinese for BERT, English for RoBERTa) plus the user's, and compares token
ids, every hidden state, the pooler and the head outputs, and for MLM heads the top-5 fill-mask
tokens. Passes only when every id agrees and every output is within tolerance.
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import parity
from .errors import ConversionError
from .check import head_of, hf_class_for, load_paddle

SENTENCES = {
    "bert": ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "自然语言处理是人工智能的一个重要方向。"],
    "roberta": ["The capital of France is Paris.", "It is a sunny day, let's go for a walk in the park!",
                "Natural language processing is an important field of artificial intelligence."],
}
FILL_MASK = {"bert": "中国的首都是{mask}京。", "roberta": "The capital of France is{mask}."}


def verify(src: str, out: str, texts=(), atol: float = 1e-5) -> dict:
    _check_same_model(src, out)
    quiet_libraries()
    import paddlenlp.transformers as pt
    import transformers

    paddle_model, paddle_class = load_paddle(out)
    head = head_of(paddle_class)
    family = paddle_model.config.model_type
    torch_model = getattr(transformers, hf_class_for(paddle_class)).from_pretrained(src).eval()
    report = {"source": os.path.abspath(src), "output": os.path.abspath(out), "paddle_class": paddle_class,
              "torch_class": type(torch_model).__name__, "atol": atol, "tokenizer": None, "outputs": [], "fill_mask": None}

    texts = SENTENCES[family] + list(texts)
    hf_tok = _hf_tokenizer(src, family)
    if hf_tok is not None and os.path.isfile(os.path.join(out, "tokenizer_config.json")):
        pd_tok = pt.AutoTokenizer.from_pretrained(out)
        rows = []
        for text in texts:
            a, b = hf_tok(text)["input_ids"], pd_tok(text)["input_ids"]
            rows.append({"text": text, "agree": a == b, "torch_ids": a, "paddle_ids": b})
        report["tokenizer"] = {"torch": type(hf_tok).__name__, "paddle": type(pd_tok).__name__, "texts": rows}
        batch = hf_tok(texts, padding=True, return_tensors="np")
        inputs = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
        if family == "roberta":
            inputs.pop("token_type_ids", None)
    else:  # no tokenizer in the source: ids drawn at random, still a padded batch with a mask
        cfg = paddle_model.config
        inputs = parity.make_batch(family, "Model", cfg.vocab_size, cfg.max_position_embeddings, cfg.pad_token_id)
    if head == "ForMultipleChoice":
        choices = getattr(paddle_model.config, "num_choices", None) or 2
        inputs = {k: np.repeat(v[:, None, :], choices, axis=1) for k, v in inputs.items()}

    torch_out = parity.run_torch(torch_model, inputs)
    paddle_out = parity.run_paddle(paddle_model, inputs, causal=head == "ForCausalLM")
    for d in parity.compare(head, torch_out, paddle_out):
        report["outputs"].append({"name": d.name, "shape": list(d.shape), "max_abs": d.max_abs, "max_rel": d.max_rel,
                                  "within": d.within(atol)})
    if head in ("ForMaskedLM", "ForPreTraining") and hf_tok is not None and hf_tok.mask_token:
        report["fill_mask"] = _fill_mask(hf_tok, torch_model, paddle_model, head, family)
    report["ok"] = (
        all(o["within"] for o in report["outputs"])
        and (report["tokenizer"] is None or all(r["agree"] for r in report["tokenizer"]["texts"]))
        and (report["fill_mask"] is None or report["fill_mask"]["agree"])
    )
    return report


def _check_same_model(src, out):
    from .source import read_config

    a, b = read_config(os.path.join(src, "config.json")), read_config(os.path.join(out, "config.json"))
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        if a.get(key) != b.get(key):
            raise ConversionError(f"{out}: not a conversion of {src}: {key} is {b.get(key)!r} there, {a.get(key)!r} here")


def quiet_libraries():
    """The report is the output: keep the three libraries' load-time logging off the terminal."""
    import logging
    import warnings

    os.environ.setdefault("DATASETS_VERBOSITY", "error")  # paddlenlp imports datasets, which logs on import
    warnings.filterwarnings("ignore")
    for name in ("datasets", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import transformers

    transformers.logging.set_verbosity_error()
    import paddlenlp.utils.log

    paddlenlp.utils.log.logger.set_level("ERROR")


def _hf_tokenizer(src, family):
    import transformers

    try:
        if os.path.isfile(os.path.join(src, "vocab.txt")):
            return transformers.BertTokenizerFast.from_pretrained(src)
        if os.path.isfile(os.path.join(src, "vocab.json")):
            return transformers.RobertaTokenizerFast.from_pretrained(src)
    except Exception:  # an unusable tokenizer is reported as absent; the model is still compared
        return None
    return None


def _fill_mask(tok, torch_model, paddle_model, head, family):
    text = FILL_MASK[family].format(mask=(" " if family == "roberta" else "") + tok.mask_token)
    enc = tok(text, return_tensors="np")
    inputs = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    if family == "roberta":
        inputs.pop("token_type_ids", None)
    key = "prediction_logits" if head == "ForPreTraining" else "logits"
    pos = int(np.where(inputs["input_ids"][0] == tok.mask_token_id)[0][0])
    top = {}
    for side, out in (("torch", parity.run_torch(torch_model, inputs)), ("paddle", parity.run_paddle(paddle_model, inputs))):
        ids = np.argsort(-out[key][0, pos])[:5]
        top[side] = [tok.convert_ids_to_tokens(int(i)) for i in ids]
    return {"text": text, **top, "agree": top["torch"] == top["paddle"]}


def format_report(report: dict) -> str:
    lines = [f"{report['torch_class']} (transformers) vs {report['paddle_class']} (PaddleNLP), float32, atol {report['atol']:g} x max(1, max|output|)", ""]
    tok = report["tokenizer"]
    if tok is None:
        lines.append("tokenizer: none in the source; random ids")
    else:
        agree = sum(r["agree"] for r in tok["texts"])
        lines.append(f"tokenizer: {tok['torch']} vs {tok['paddle']}: {agree}/{len(tok['texts'])} texts give identical ids")
        lines += [f"  DIFFERS: {r['text']!r}" for r in tok["texts"] if not r["agree"]]
    lines += ["", "| output | shape | max abs diff | max rel diff | within |", "|---|---|---|---|---|"]
    for o in report["outputs"]:
        lines.append(f"| {o['name']} | {'×'.join(map(str, o['shape']))} | {o['max_abs']:.2e} | {o['max_rel']:.2e} | {'yes' if o['within'] else 'NO'} |")
    if report["fill_mask"]:
        fm = report["fill_mask"]
        lines += ["", f"fill-mask top 5 for {fm['text']!r}:", f"  torch:  {' '.join(fm['torch'])}", f"  paddle: {' '.join(fm['paddle'])}"]
    lines += ["", "PASS" if report["ok"] else "FAIL"]
    return "\n".join(lines)


def write_json(report: dict, path: str):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
