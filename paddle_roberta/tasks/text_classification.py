"""``text-classification``: labels from config.json's ``id2label`` and scores, as transformers'
``TextClassificationPipeline`` gives them (its ``postprocess``, read for every rule below)."""

from __future__ import annotations

import numpy as np

FUNCTIONS = ("softmax", "sigmoid", "none")


def default_function(config: dict) -> str:
    """The function transformers applies when none is asked: from ``problem_type``, else the number of labels."""
    problem, labels = config.get("problem_type"), len(config.get("id2label") or {}) or config.get("num_labels", 2)
    if problem == "regression":
        return "none"
    if problem == "multi_label_classification" or labels == 1:
        return "sigmoid"
    return "softmax"


def scores(logits: np.ndarray, function: str) -> np.ndarray:
    logits = logits.astype(np.float32)
    if function == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    if function == "softmax":
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    return logits


def labels(config: dict, row: np.ndarray, top_k, legacy: bool):
    """One text's answer: ``{"label", "score"}`` (no ``top_k`` given), else the ``top_k`` best (all for None), best
    first."""
    names = {int(k): v for k, v in (config.get("id2label") or {}).items()}
    if legacy:
        best = int(row.argmax())
        return {"label": names.get(best, f"LABEL_{best}"), "score": float(row[best])}
    ranked = sorted(({"label": names.get(i, f"LABEL_{i}"), "score": float(s)} for i, s in enumerate(row)),
                    key=lambda d: d["score"], reverse=True)
    return ranked if top_k is None else ranked[:top_k]
