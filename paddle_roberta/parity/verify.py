"""``paddle-roberta verify SRC OUT``: text in, both tokenizers, both models, every output compared.

Loads the torch original with transformers (the class matching the conversion: BertModel for a
CLUE checkpoint, as its model card does) and the converted directory with PaddleNLP, tokenizes
built-in sentences (Chinese for BERT, English for RoBERTa, seven scripts for XLM-RoBERTa, some with
the mask token mid-sentence)
plus the user's, and compares token ids, every hidden state, the pooler and the head outputs (per-token
outputs at the real tokens; padded positions are reported, not judged: see ``parity``), and for MLM
heads the top-5 tokens at every mask of every sentence that has one, each side fed by its own
tokenizer. Passes only when every id agrees, every output is within tolerance and every top 5 agrees.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ConversionError
from ..families.config import size_difference
from ..families.tables import FAMILIES, family_and_head
from ..files.weight_files import PADDLE_FORMATS, choose, in_folder
from ..sentence.modules import PIPELINE_JSON, is_sentence_transformers
from ..tokenizer.kind import not_written, tokenizer_kind
from . import compare as parity
from .check import load_paddle
from .report import build_report
from .sentence import sentence_note
from .torch_side import TorchSide, torch_model_args

SENTENCES = {
    "bert": ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "自然语言处理是人工智能的一个重要方向。"],
    "roberta": ["The capital of France is Paris.", "It is a sunny day, let's go for a walk in the park!",
                "Natural language processing is an important field of artificial intelligence."],
    "xlm-roberta": ["The capital of France is Paris.", "Die Hauptstadt von Frankreich ist Paris.",
                    "中国的首都是北京。", "Столица России — Москва.", "عاصمة مصر هي القاهرة.",
                    "भारत की राजधानी नई दिल्ली है।", "Ça va très bien, merci ! 😊"],
}
# Masks where people put them: mid-sentence, two in one sentence, first and last word.
FILL_MASK = {
    "bert": ["中国的首都是{mask}京。", "今天天气很{mask}，我们去公园散步吧！",
             "自然语言{mask}理是人工智能的一个重要方向。",
             "{mask}国的首都是北京。", "北京是中国的{mask}{mask}。", "The capital of France is {mask}."],
    "roberta": ["Paris is the {mask} of France.", "The quick brown {mask} jumps over the lazy dog.",
                "It is a sunny {mask}, let's go for a walk in the park!",
                "Natural {mask} processing is an important field of {mask} intelligence.",
                "{mask} is the capital of France.", "The capital of France is {mask}."],
    "xlm-roberta": ["Paris is the {mask} of France.", "Die Hauptstadt von {mask} ist Berlin.", "中国的首都是{mask}。",
                    "Столица России — {mask}.", "{mask} هي عاصمة مصر.", "भारत की {mask} नई दिल्ली है।",
                    "Natural {mask} processing is an important field of {mask} intelligence."],
}


def verify(src: str, out: str, texts=(), atol: float = 1e-5, weights=None, torch_side=None) -> dict:
    """``weights``: a weights file (or several) of ``src`` or ``out`` to read where the directory holds two formats
    (``weight_files.choose``: without it, two formats that disagree are refused). ``torch_side``: where the torch
    half runs (``torch_side.TorchProcess``, a helper process ``convert`` starts early; default this process). The
    libraries' warnings while both models load and run are silenced for this call only (the report is the
    output), not for the caller's process."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _verify(src, out, texts, atol, weights, torch_side or TorchSide())


def _chosen(weights) -> list:
    return [os.fspath(weights)] if isinstance(weights, (str, os.PathLike)) else [os.fspath(w) for w in weights or ()]


def _verify(src, out, texts, atol, weights, side) -> dict:
    _check_same_model(src, out)
    paddle_weights = (choose(out, PADDLE_FORMATS, in_folder(out, _chosen(weights))) or (None, None))[0]
    quiet_libraries(torch=isinstance(side, TorchSide))
    import paddlenlp.transformers as pt

    stored = _stored_dtype(out)
    paddle_model, paddle_class = load_paddle(out, dtype="float32" if stored != "float32" else None,
                                             weights=paddle_weights)
    head = family_and_head(paddle_class)[1]
    family = paddle_model.config.model_type
    fam = FAMILIES[family]
    torch_info = side.call("load", **torch_model_args(src, paddle_class, weights, stored))
    data = {"source": os.path.abspath(src), "output": os.path.abspath(out), "paddle_class": paddle_class,
            "torch_class": torch_info["torch_class"], "dtype": stored, "tokenizer": None, "fill_mask": None}

    hf_tok = side.call("tokenizer", src=os.path.abspath(src), family=family)  # what verify needs to know of it, or None
    fill_texts = [t.format(mask=hf_tok["mask_token"]) for t in FILL_MASK[family]] if hf_tok is not None else []
    token_texts, pad_texts = (hf_tok["token_texts"], hf_tok["pad_texts"]) if hf_tok is not None else ([], [])
    user = list(texts)
    texts = SENTENCES[family] + fill_texts + token_texts + user
    pd_tok, limit = None, None
    # the model sees at most its positions: longer texts are cut there (the report lists them)
    positions = fam.positions(torch_info["max_position_embeddings"], torch_info["pad_token_id"])
    if hf_tok is not None and os.path.isfile(os.path.join(out, "tokenizer_config.json")):
        pd_tok = pt.AutoTokenizer.from_pretrained(out)
        rows = _compare_ids(list(dict.fromkeys(texts[:len(texts) - len(user)] + pad_texts + user)), side, pd_tok, src)
        texts = [t for t in texts if t not in {r["text"] for r in rows if r["verdict"] == "slow"}]  # not batched
        data["tokenizer"] = {"torch": hf_tok["class"], "paddle": type(pd_tok).__name__, "texts": rows,
                             "torch_size": hf_tok["size"], "paddle_size": len(pd_tok), "added": hf_tok["added"]}
        data["truncated_to"] = limit = positions
        data["truncated"] = [r["text"] for r in rows if len(r["torch_ids"]) > limit]
    elif hf_tok is not None:  # a tokenizer no PaddleNLP class expresses: both models fed transformers' ids
        data["tokenizer_kind"] = tokenizer_kind(src)
        data["truncated_to"] = limit = positions
    if hf_tok is not None:
        keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if fam.token_types else [])
        inputs = side.call("encode", texts=texts, limit=limit, keys=keys)
    else:  # no tokenizer in the source, or one transformers cannot load here: ids drawn at random, padded, with a mask
        data["tokenizer_kind"] = tokenizer_kind(src) if not_written(tokenizer_kind(src)) else None
        cfg = paddle_model.config
        inputs = parity.make_batch(family, "Model", cfg.vocab_size, cfg.max_position_embeddings, cfg.pad_token_id)
    if head == "ForMultipleChoice":
        choices = getattr(paddle_model.config, "num_choices", None) or 2
        inputs = {k: np.repeat(v[:, None, :], choices, axis=1) for k, v in inputs.items()}

    torch_out = side.call("run", inputs=inputs)
    paddle_out = parity.run_paddle(paddle_model, inputs, causal=parity.needs_causal_mask(family, head))
    diffs = parity.compare(head, torch_out, paddle_out, inputs["attention_mask"])
    tok = data["tokenizer"]
    checks = {} if tok is None else {"tokenizer ids": all(r["agree"] for r in tok["texts"]),
                                     "tokenizer size": tok["torch_size"] == tok["paddle_size"]}
    if checks.get("tokenizer ids", True) and not parity.needs_causal_mask(family, head):  # RobertaForCausalLM: README
        for label, feed in _paddle_way_calls(pd_tok, texts, limit, fam, head, inputs, paddle_model):
            out_ = parity.run_paddle(paddle_model, feed)
            judged = len(parity.HEAD_OUTPUTS[head]) + 1  # the last hidden state and the head outputs
            for d in parity.compare(head, torch_out, out_, inputs["attention_mask"])[-judged:]:
                d.name = f"{label}: {d.name}"
                diffs.append(d)
    if head in ("ForMaskedLM", "ForPreTraining") and pd_tok is not None and hf_tok["mask_token"]:
        masked = [t for t in texts if hf_tok["mask_token"] in t]
        data["fill_mask"] = fill_mask_rows(side, pd_tok, paddle_model, head, family, masked, limit)
        checks["fill-mask top 5"] = all(r["agree"] for r in data["fill_mask"])
    if is_sentence_transformers(src) and os.path.isfile(os.path.join(out, PIPELINE_JSON)):
        sentence_diffs, data["sentence"] = _sentence(side, src, out, paddle_model, user, stored)
        diffs += sentence_diffs
    precision = ("float32" if stored == "float32"
                 else f"weights stored in {stored}, both sides run in float32 on those rounded weights")
    return build_report(f"{data['torch_class']} (transformers) vs {paddle_class} (PaddleNLP), {precision}", atol, diffs,
                        checks=checks, notes=_notes(data), after=_fill_mask_lines(data["fill_mask"]), **data)


def _sentence(side, src, out, paddle_model, user, stored) -> tuple:
    """The final embeddings: sentence-transformers' encode vs ``SentenceEncoder`` (``parity.sentence``): (rows, what
    was compared)."""
    import importlib.util

    from ..sentence.encoder import SentenceEncoder
    from .sentence import sentence_rows

    if importlib.util.find_spec("sentence_transformers") is None:
        raise ConversionError(f"{src}: a sentence-transformers model, and sentence-transformers is not installed to "
                              "verify its embeddings (pip install sentence-transformers, or --no-verify)")
    encoder = SentenceEncoder(out, model=paddle_model)
    return sentence_rows(side, os.path.abspath(src), encoder, user, stored)


def _compare_ids(texts, side, pd_tok, src) -> list:
    """Per text: verdict "same" (PaddleNLP's ids are transformers' fast tokenizer's, what AutoTokenizer gives), "slow"
    (they are transformers' slow tokenizer's, where transformers' own two disagree: PaddleNLP's tokenizers are
    ports of the slow ones, README known differences), else "differs". ``agree``: not "differs"."""
    fast = side.call("ids", texts=texts)
    paddle = [pd_tok(t)["input_ids"] for t in texts]
    differ = [i for i, (a, b) in enumerate(zip(fast, paddle)) if a != b]
    slow = {}
    if differ:
        slow = dict(zip(differ, side.call("slow_ids", src=os.path.abspath(src), texts=[texts[i] for i in differ])))
    rows = []
    for i, (text, a, b) in enumerate(zip(texts, fast, paddle)):
        verdict = "same" if a == b else "slow" if slow[i] == b else "differs"
        rows.append({"text": text, "agree": verdict != "differs", "verdict": verdict, "torch_ids": a, "paddle_ids": b,
                     "torch_slow_ids": slow.get(i)})
    return rows


def _paddle_way_calls(pd_tok, texts, limit, fam, head, inputs, paddle_model):
    """The batch as PaddleNLP users feed it: ``model(**tokenizer(texts, padding=True))`` — the written
    tokenizer's default output as is — and, where the PaddleNLP model builds the mask from pad_token_id
    itself, the same ids with no attention_mask (``model(input_ids)``). Judged against torch on the
    correctly masked batch at the real tokens: a pad_token_id that is not the id the tokenizer pads with
    masks real tokens and attends to padding there."""
    if pd_tok is None:  # random ids: only the no-mask call, on the same ids
        calls = []
    else:
        enc = pd_tok(texts, padding=True, truncation=True, max_length=limit)
        default = {k: np.asarray(enc[k], dtype=np.int64)
                   for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc}
        if head == "ForMultipleChoice":
            default = {k: np.repeat(v[:, None, :], inputs["input_ids"].shape[1], axis=1) for k, v in default.items()}
        calls = [("tokenizer defaults", default)]
    if fam.masks_pad_by_default:
        calls.append(("no attention_mask", {k: v for k, v in inputs.items() if k != "attention_mask"}))
    return calls


def _stored_dtype(out) -> str:
    from ..files.source import read_config

    dtype = read_config(os.path.join(out, "config.json")).get("dtype", "float32")
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ConversionError(f"{os.path.join(out, 'config.json')}: dtype {dtype!r} is not float32, float16 or "
                              "bfloat16")
    return dtype


def _check_same_model(src, out):
    from ..files.source import read_config

    differ = size_difference(read_config(os.path.join(src, "config.json")),
                             read_config(os.path.join(out, "config.json")))
    if differ:
        key, here, there = differ
        raise ConversionError(f"{out}: not a conversion of {src}: {key} is {there!r} there, {here!r} here")


def quiet_libraries(torch=True):
    """The report is the output: keep the libraries' load-time logging off the terminal (their warnings are
    silenced by ``verify`` for its own call, and by the command line for the whole run). ``torch=False``:
    transformers is the helper process's (which quiets its own), not imported here."""
    import logging

    os.environ.setdefault("DATASETS_VERBOSITY", "error")  # paddlenlp imports datasets, which logs on import
    for name in ("datasets", "transformers", "sentence_transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if torch:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()  # "Loading checkpoint shards" on sharded sources
    import paddlenlp.utils.log

    paddlenlp.utils.log.logger.set_level("ERROR")


def fill_mask_rows(side, pd_tok, paddle_model, head, family, texts, limit) -> list:
    """Top-5 tokens at every mask of every text, each framework fed by its own tokenizer."""
    key = "prediction_logits" if head == "ForPreTraining" else "logits"
    token_types = FAMILIES[family].token_types
    torch_tops = side.call("fill_mask", texts=texts, key=key, token_types=token_types, limit=limit)
    rows = []
    for text, torch_top in zip(texts, torch_tops):
        enc = pd_tok(text, return_token_type_ids=token_types, truncation=True, max_length=limit)
        inputs = {k: np.asarray([enc[k]], dtype=np.int64) for k in ("input_ids", "token_type_ids") if k in enc}
        inputs["attention_mask"] = np.ones_like(inputs["input_ids"])
        logits = parity.run_paddle(paddle_model, inputs)[key][0]
        positions = np.where(inputs["input_ids"][0] == pd_tok.mask_token_id)[0]
        paddle_top = [[parity.token_name(pd_tok, int(i)) for i in np.argsort(-logits[p])[:5]] for p in positions]
        rows.append({"text": text, "torch": torch_top, "paddle": paddle_top, "agree": torch_top == paddle_top})
    return rows


def _notes(data: dict) -> list:
    """The report's lines above the table: the tokenizers compared, the sentence pipeline."""
    lines = []
    tok = data["tokenizer"]
    if tok is None and data.get("tokenizer_kind"):
        fed = "both models fed transformers' ids" if data.get("truncated_to") else "random ids"
        why = "has no PaddleNLP counterpart, none in the output" if not_written(data["tokenizer_kind"]) else \
            "is not in the output"
        lines.append(f"tokenizer: the source's ({data['tokenizer_kind']}) {why}; {fed}")
    elif tok is None:
        lines.append("tokenizer: none in the source; random ids")
    else:
        agree = sum(r["verdict"] == "same" for r in tok["texts"])
        slow = sum(r["verdict"] == "slow" for r in tok["texts"])
        added = f", {tok['added']} of them added" if tok["added"] else ""
        slow = f" ({slow} more: transformers' slow tokenizer's)" if slow else ""
        lines.append(f"tokenizer: {tok['torch']} vs {tok['paddle']}: {agree}/{len(tok['texts'])} texts give identical "
                     f"ids{slow} (every special and added token among them); {tok['torch_size']} vs "
                     f"{tok['paddle_size']} ids{added}")
        lines += [f"  DIFFERS: {r['text']!r}" for r in tok["texts"] if not r["agree"]]
        lines += [f"  transformers' slow and fast tokenizers disagree, PaddleNLP gives the slow one's ids (not "
                  f"batched): {r['text']!r}" for r in tok["texts"] if r["verdict"] == "slow"]
        lines += [f"  cut to the model's {data['truncated_to']} positions: {t[:60]!r}" for t in data["truncated"]]
    if data.get("sentence"):
        compared = "sentence-transformers' encode vs paddle_roberta's SentenceEncoder"
        lines.append(sentence_note(data["sentence"], compared))
    return lines


def _fill_mask_lines(rows) -> list:
    if not rows:
        return []
    lines = ["", f"fill-mask top 5: {sum(r['agree'] for r in rows)}/{len(rows)} texts agree at every mask"]
    for r in rows:
        lines.append(f"  {r['text']!r}{'' if r['agree'] else '  DIFFERS'}")
        for t, p in zip(r["torch"], r["paddle"]):
            lines += [f"    torch:  {' '.join(t)}", f"    paddle: {' '.join(p)}"]
    return lines
