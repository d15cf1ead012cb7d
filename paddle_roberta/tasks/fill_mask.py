"""``fill-mask``: for each mask in a text, the ``top_k`` tokens with their score, id, text and the filled-in
sequence, as transformers' ``FillMaskPipeline`` gives them (its ``postprocess`` and ``get_target_ids``)."""

from __future__ import annotations

import numpy as np


def target_ids(tokenizer, targets) -> np.ndarray:
    """The vocabulary ids of ``targets`` (a word outside the vocabulary: its first token, as transformers does)."""
    vocab = tokenizer.get_vocab()
    ids = []
    for target in [targets] if isinstance(targets, str) else targets:
        if target in vocab:
            ids.append(vocab[target])
            continue
        first = tokenizer(target, add_special_tokens=False, return_attention_mask=False,
                          return_token_type_ids=False)["input_ids"][:1]
        ids += first
    if not ids:
        raise ValueError("targets: none of them is in the vocabulary or makes a token")
    return np.array(list(set(ids)))


def fill(tokenizer, input_ids: np.ndarray, logits: np.ndarray, top_k: int, targets: np.ndarray | None):
    """One text's answer: a list of predictions for its one mask, or a list of such lists for several."""
    masks = np.flatnonzero(input_ids == tokenizer.mask_token_id)
    rows = logits[masks].astype(np.float32)
    probs = np.exp(rows - rows.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if targets is not None:
        probs = probs[:, targets]
        top_k = min(top_k, len(targets))
    single = len(masks) == 1
    result = []
    for i, row in enumerate(probs):
        best = np.argsort(-row, kind="stable")[:top_k]
        answers = []
        for j in best:
            token = int(targets[j]) if targets is not None else int(j)
            ids = input_ids.copy()
            ids[masks[i]] = token
            ids = ids[ids != tokenizer.pad_token_id]
            answers.append({"score": float(row[j]), "token": token, "token_str": tokenizer.decode([token]),
                            "sequence": tokenizer.decode(ids.tolist(), skip_special_tokens=single)})
        result.append(answers)
    return result[0] if single else result
