"""Run the torch original and the converted PaddleNLP model on the same inputs and compare.

Needs torch, transformers, paddlepaddle and paddlenlp; conversion itself needs none of them.
"Same inputs": eval mode, float32, a right-padded batch with an explicit attention_mask, and
token_type_ids with both types for BERT (RoBERTa and XLM-RoBERTa have one type). Every hidden state, the pooler
where both sides have one, and every head output are compared as max abs and max relative diff.

Where it is judged: per-token outputs (hidden states, MLM/LM/token logits, span logits) at the real
tokens (attention_mask == 1); their padded positions are measured and reported apart, not judged.
PaddleNLP's RobertaEmbeddings builds its word embedding with ``padding_idx=pad_token_id``, so
Paddle embeds the pad id as zeros where torch uses the stored row, which a trained checkpoint has
non-zero: the outputs at padded positions differ (nothing reads them: the mask hides them from
every real token). Sequence-level outputs (pooler, sequence/choice logits, NSP) are compared whole.
"""

from __future__ import annotations

import numpy as np

from ..families.tables import FAMILIES
from ..loading import dygraph_here
from .report import Diff

# HF output field -> PaddleNLP output field, per head (hidden states are compared for all).
HEAD_OUTPUTS = {
    "Model": {"pooler_output": "pooler_output"},
    "ForMaskedLM": {"logits": "logits"},
    "ForCausalLM": {"logits": "logits"},
    "ForPreTraining": {"prediction_logits": "prediction_logits", "seq_relationship_logits": "seq_relationship_logits"},
    "ForSequenceClassification": {"logits": "logits"},
    "ForTokenClassification": {"logits": "logits"},
    "ForQuestionAnswering": {"start_logits": "start_logits", "end_logits": "end_logits"},
    "ForMultipleChoice": {"logits": "logits"},
}


# Outputs with one value per token ([batch, seq, ...]): judged at real tokens only.
PER_TOKEN = {"hidden_states", "logits@ForMaskedLM", "logits@ForCausalLM", "logits@ForTokenClassification",
             "prediction_logits", "start_logits", "end_logits"}


def make_batch(family: str, head: str, vocab_size: int, max_positions: int, pad_id: int, seed=0, batch=3, seq=11,
               num_choices=2):
    """A right-padded batch: ids, attention_mask and (BERT) token_type_ids with both types."""
    fam = FAMILIES[family]
    rng = np.random.default_rng(seed)
    seq = min(seq, fam.positions(max_positions, pad_id))
    lengths = np.linspace(seq, max(2, seq // 3), batch).astype(int)
    choices = num_choices if head == "ForMultipleChoice" else 1
    ids = np.full((batch * choices, seq), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    low = 0 if vocab_size <= pad_id + 2 else pad_id + 1  # ordinary tokens, never the pad id
    for row in range(batch * choices):
        n = lengths[row // choices]
        ids[row, :n] = rng.integers(low, vocab_size, n)
        ids[row, :n][ids[row, :n] == pad_id] = (pad_id + 1) % vocab_size
        mask[row, :n] = 1
        if fam.token_types:
            types[row, n // 2 : n] = 1  # second segment
    inputs = {"input_ids": ids, "attention_mask": mask}
    if fam.token_types:
        inputs["token_type_ids"] = types
    if choices > 1:
        inputs = {k: v.reshape(batch, choices, seq) for k, v in inputs.items()}
    return inputs


def run_torch(model, inputs: dict) -> dict:
    import torch

    model.eval()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, output_hidden_states=True, return_dict=True)
    return _to_numpy(out)


def run_paddle(model, inputs: dict, causal=False) -> dict:
    import paddle

    dygraph_here()
    model.eval()
    feed = {k: paddle.to_tensor(v) for k, v in inputs.items()}
    if causal:
        # PaddleNLP's RobertaForCausalLM applies no causal mask of its own (transformers does when
        # is_decoder): give it the additive [batch, 1, seq, seq] mask transformers builds (see needs_causal_mask).
        feed["attention_mask"] = paddle.to_tensor(causal_additive_mask(inputs["attention_mask"]))
    with paddle.no_grad():
        out = model(**feed, output_hidden_states=True, return_dict=True)
    return _to_numpy(out)


def needs_causal_mask(family: str, head: str) -> bool:
    """Must the caller pass the causal mask? (RobertaForCausalLM: yes; XLM-R builds it from is_decoder.)"""
    return head == "ForCausalLM" and not FAMILIES[family].builds_causal_mask


def causal_additive_mask(mask: np.ndarray) -> np.ndarray:
    seq = mask.shape[-1]
    allowed = np.tril(np.ones((seq, seq), dtype=bool))[None, None] & mask[:, None, None, :].astype(bool)
    return np.where(allowed, 0.0, -1e4).astype(np.float32)


def compare(head: str, torch_out: dict, paddle_out: dict, attention_mask: np.ndarray) -> list:
    """Every hidden state and head output; ``attention_mask`` as fed ([batch, seq] or [batch, choices, seq])."""
    real = real_tokens(attention_mask)
    hs_t, hs_p = torch_out["hidden_states"], paddle_out["hidden_states"]
    if len(hs_t) != len(hs_p):  # a failed row, with the counts as its shapes
        return [Diff("hidden_states (count)", float("inf"), float("inf"), (len(hs_t),), got_shape=(len(hs_p),))]
    diffs = [diff(f"hidden_states[{i}]", a, b, real) for i, (a, b) in enumerate(zip(hs_t, hs_p))]
    return diffs + head_diffs(head, torch_out, paddle_out, real, HEAD_OUTPUTS[head].items())


def head_diffs(head: str, ref: dict, got: dict, real: np.ndarray, names) -> list:
    """The head outputs ``names`` ((reference key, judged key) pairs), each judged at real tokens where it is per
    token, with the reference's last hidden state (what the head reads) in its scale."""
    last = scale(ref["hidden_states"][-1], real)
    diffs = []
    for ref_name, got_name in names:
        per_token = ref_name in PER_TOKEN or f"{ref_name}@{head}" in PER_TOKEN
        d = diff(ref_name, ref[ref_name], got[got_name], real if per_token else None)
        d.input_scale = last
        diffs.append(d)
    return diffs


def real_tokens(attention_mask) -> np.ndarray:
    """[rows, seq] bool: the real tokens of a 0/1 mask fed as [batch, seq] or [batch, choices, seq]."""
    return np.asarray(attention_mask).reshape(-1, np.shape(attention_mask)[-1]).astype(bool)


def scale(a, real=None) -> float:
    """max |a| (at the real tokens where ``real`` is given): the magnitude the bar scales with (``Diff.bar``)."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.abs(a[real] if real is not None else a).max())


def diff(name, a, b, real=None) -> Diff:
    """``real``: a [rows, seq] bool mask when ``a`` is per token ([rows, seq, ...]); None to judge it whole. Shapes
    that differ give a failed row naming both."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or (real is not None and a.shape[:2] != real.shape):
        return Diff(name, float("inf"), float("inf"), a.shape, got_shape=b.shape if a.shape != b.shape else real.shape)
    shape, padded = a.shape, None
    if real is not None:
        if not real.all():
            padded = float(np.abs(a[~real] - b[~real]).max())
        a, b = a[real], b[real]
    err = float(np.abs(a - b).max())
    top = scale(a)
    return Diff(name, err, err / top if top else err, shape, top, padded)


def _to_numpy(out) -> dict:
    result = {}
    for key in out.keys():
        value = out[key]
        if value is None or key in ("past_key_values", "attentions", "loss"):
            continue
        if isinstance(value, (tuple, list)):
            result[key] = [v.numpy() for v in value]
        else:
            result[key] = value.numpy()
    return result


def token_name(tok, i: int) -> str:
    """The token of id ``i``; embedding rows past the tokenizer's vocabulary (a resized model) by their id."""
    return tok.convert_ids_to_tokens(i) if i < len(tok) else f"<id {i}>"
