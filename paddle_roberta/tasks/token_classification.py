"""``token-classification`` (``ner``): entities with their label, score, token index, word and character offsets, as
transformers' ``TokenClassificationPipeline`` gives them. The rules below are that pipeline's ``gather_pre_entities``,
``aggregate`` and ``group_entities`` (transformers 4.55), ported to work on numpy outputs and a ``tokenizer`` (the
fast one, ``text.fast_tokenizer``): no library exposes them apart from a torch model. Scores are Python floats
(transformers gives numpy float32: equal values, JSON-ready here)."""

from __future__ import annotations

import numpy as np

STRATEGIES = ("none", "simple", "first", "average", "max")


def entities(tokenizer, id2label: dict, text: str, encoding, logits: np.ndarray, strategy: str,
             ignore_labels) -> list:
    """One text's entities; ``encoding`` the tokenizer's for it (offsets and special-token mask)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    scores = shifted / shifted.sum(axis=-1, keepdims=True)
    pre = _pre_entities(tokenizer, text, encoding, scores, strategy)
    if strategy in ("none", "simple"):
        found = [{"entity": id2label[int(p["scores"].argmax())], "score": float(p["scores"].max()),
                  "index": p["index"], "word": p["word"], "start": p["start"], "end": p["end"]} for p in pre]
    else:
        found = _words(tokenizer, id2label, pre, strategy)
    if strategy != "none":
        found = _groups(tokenizer, found)
    ignore = ["O"] if ignore_labels is None else ignore_labels
    return [e for e in found if e.get("entity") not in ignore and e.get("entity_group") not in ignore]


def _pre_entities(tokenizer, text, encoding, scores, strategy) -> list:
    # a tokenizer whose model marks word continuations (WordPiece's "##") tells subwords exactly; otherwise a
    # subword is a piece not preceded by a space, transformers' fallback
    word_aware = getattr(tokenizer._tokenizer.model, "continuing_subword_prefix", None)
    ids, offsets, special = encoding["input_ids"], encoding["offset_mapping"], encoding["special_tokens_mask"]
    pre = []
    for idx, token_scores in enumerate(scores[: len(ids)]):
        if special[idx]:
            continue
        word = tokenizer.convert_ids_to_tokens(int(ids[idx]))
        start, end = offsets[idx]
        ref = text[start:end]
        if word_aware:
            is_subword = len(word) != len(ref)
        else:
            is_subword = start > 0 and " " not in text[start - 1 : start + 1]
        if int(ids[idx]) == tokenizer.unk_token_id:
            word, is_subword = ref, False
        pre.append({"word": word, "scores": token_scores, "start": start, "end": end, "index": idx,
                    "is_subword": is_subword})
    return pre


def _word(tokenizer, id2label, group, strategy) -> dict:
    word = tokenizer.convert_tokens_to_string([e["word"] for e in group])
    if strategy == "first":
        scores = group[0]["scores"]
    elif strategy == "max":
        scores = max(group, key=lambda e: e["scores"].max())["scores"]
    else:  # average
        scores = np.nanmean(np.stack([e["scores"] for e in group]), axis=0)
    best = int(scores.argmax())
    return {"entity": id2label[best], "score": float(scores[best]), "word": word, "start": group[0]["start"],
            "end": group[-1]["end"]}


def _words(tokenizer, id2label, pre, strategy) -> list:
    """Subword pieces joined into words, the word's label taken by ``strategy``."""
    words, group = [], None
    for e in pre:
        if group is None:
            group = [e]
        elif e["is_subword"]:
            group.append(e)
        else:
            words.append(_word(tokenizer, id2label, group, strategy))
            group = [e]
    if group is not None:
        words.append(_word(tokenizer, id2label, group, strategy))
    return words


def _tag(label: str) -> tuple:
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label  # not in B-/I- form: a continuation


def _group(tokenizer, group) -> dict:
    return {"entity_group": group[0]["entity"].split("-", 1)[-1],
            "score": float(np.mean(np.nanmean([e["score"] for e in group]))),
            "word": tokenizer.convert_tokens_to_string([e["word"] for e in group]),
            "start": group[0]["start"], "end": group[-1]["end"]}


def _groups(tokenizer, found) -> list:
    """Adjacent entities of one tag (a B- starts a new one) as one ``entity_group``."""
    groups, current = [], []
    for e in found:
        if current:
            bi, tag = _tag(e["entity"])
            if not (tag == _tag(current[-1]["entity"])[1] and bi != "B"):
                groups.append(_group(tokenizer, current))
                current = []
        current.append(e)
    if current:
        groups.append(_group(tokenizer, current))
    return groups
