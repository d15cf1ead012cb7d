"""``question-answering``: the best spans of the context with their score and character offsets, as transformers'
``QuestionAnsweringPipeline`` gives them: a long context split into overlapping windows (``doc_stride``), every
window's spans scored, answers that are the same text summed. The rules below are that pipeline's ``preprocess``
(fast-tokenizer branch), ``select_starts_ends``, ``decode_spans`` and ``postprocess`` (transformers 4.55), ported to
numpy outputs: no library exposes them apart from a torch model."""

from __future__ import annotations

import numpy as np


def windows(tokenizer, question: str, context: str, max_seq_len: int, doc_stride: int, index: int = 0) -> list:
    """The model inputs of each window of ``context`` (question first, context truncated and strided), each with its
    ``p_mask`` (1: cannot be in the answer) and its encoding (offsets, words). ``index``: the example's, for
    messages."""
    if doc_stride > max_seq_len:
        raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len})")
    # what the tokenizers library would answer with an exception or a Rust panic, said first
    asked = len(tokenizer(question, add_special_tokens=False)["input_ids"]) + tokenizer.num_special_tokens_to_add(True)
    room = max_seq_len - asked
    if room < 1:
        raise ValueError(f"question {index} takes {asked} of the max_seq_len {max_seq_len} tokens, leaving none for "
                         "the context: shorten the question or raise max_seq_len")
    if doc_stride >= room and len(tokenizer(context, add_special_tokens=False)["input_ids"]) > room:  # to be cut
        raise ValueError(f"question {index} leaves {room} tokens of max_seq_len {max_seq_len} for each window of the "
                         f"context, not more than doc_stride {doc_stride}: lower doc_stride or raise max_seq_len")
    enc = tokenizer(text=question, text_pair=context, truncation="only_second", max_length=max_seq_len,
                    stride=doc_stride, return_token_type_ids=True, return_overflowing_tokens=True,
                    return_offsets_mapping=True, return_special_tokens_mask=True)
    found = []
    for i in range(len(enc["input_ids"])):
        ids = enc["input_ids"][i]
        p_mask = [token != 1 for token in enc.sequence_ids(i)]
        for cls in np.nonzero(np.array(ids) == tokenizer.cls_token_id)[0]:  # the CLS stays: "no answer" lives there
            p_mask[cls] = False
        found.append({"input_ids": ids, "attention_mask": enc["attention_mask"][i],
                      "token_type_ids": enc["token_type_ids"][i], "p_mask": np.array(p_mask, dtype=np.int64),
                      "encoding": enc[i]})
    return found


def _spans(start, end, p_mask, attention_mask, min_null_score, top_k, handle_impossible_answer, max_answer_len):
    allowed = np.abs(p_mask - 1) & attention_mask
    start = np.where(allowed == 0, -10000.0, start)[None]
    end = np.where(allowed == 0, -10000.0, end)[None]
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, float(start[0, 0] * end[0, 0]))
    start[0, 0] = end[0, 0] = 0.0
    # every (start, end) with start <= end < start + max_answer_len, scored start prob x end prob
    candidates = np.tril(np.triu(np.matmul(start[..., None], end[:, None])), max_answer_len - 1)
    flat = candidates.flatten()
    if top_k == 1:
        order = [np.argmax(flat)]
    elif len(flat) < top_k:
        order = np.argsort(-flat)
    else:
        best = np.argpartition(-flat, top_k)[0:top_k]
        order = best[np.argsort(-flat[best])]
    starts, ends = np.unravel_index(order, candidates.shape)[1:]
    keep = np.isin(starts, allowed.nonzero()) & np.isin(ends, allowed.nonzero())
    starts, ends = starts[keep], ends[keep]
    return starts, ends, candidates[0, starts, ends], min_null_score


def _chars(enc, s, e, align_to_words) -> tuple:
    if align_to_words:
        try:  # the whole words the start and end tokens are in
            return enc.word_to_chars(enc.token_to_word(s), sequence_index=1)[0], \
                enc.word_to_chars(enc.token_to_word(e), sequence_index=1)[1]
        except Exception:  # noqa: BLE001 -- tokenizers without words: offsets, as transformers falls back
            pass
    return enc.offsets[s][0], enc.offsets[e][1]


def answers(context: str, found: list, outputs: list, top_k: int, handle_impossible_answer: bool,
            max_answer_len: int, align_to_words: bool):
    """One question's answer (a dict, or a list of ``top_k`` dicts): ``outputs`` the (start, end) logits of each
    window of ``found``, cut to its tokens."""
    min_null_score, result = 1000000.0, []
    for window, (start, end) in zip(found, outputs):
        starts, ends, scores, min_null_score = _spans(
            start, end, window["p_mask"], np.array(window["attention_mask"]), min_null_score,
            top_k * 2 + 10 if align_to_words else top_k, handle_impossible_answer, max_answer_len)
        for s, e, score in zip(starts, ends, scores):
            first, last = _chars(window["encoding"], int(s), int(e), align_to_words)
            text = context[first:last]
            same = next((a for a in result if a["answer"].lower() == text.lower()), None)
            if same:
                same["score"] += float(score)
            else:
                result.append({"score": float(score), "start": first, "end": last, "answer": text})
    if handle_impossible_answer:
        result.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
    result = sorted(result, key=lambda a: a["score"], reverse=True)[:top_k]
    return result[0] if len(result) == 1 else result
