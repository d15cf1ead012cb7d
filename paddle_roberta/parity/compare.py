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

from dataclasses import dataclass

import numpy as np

from ..families.tables import FAMILIES

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


@dataclass
class Diff:
    name: str
    max_abs: float  # at real tokens for per-token outputs, else over the whole output
    max_rel: float  # max |a - b| / max |a|: relative to the output's scale, robust to zeros
    shape: tuple
    scale: float = 1.0  # max |a| of the torch output (where judged)
    padded_max_abs: float | None = None  # at padded positions: reported, not judged; None when none
    input_scale: float = 0.0  # head outputs: max |last hidden state| at real tokens, what the head reads

    def within(self, atol: float) -> bool:
        """|a - b| <= atol * max(1, max |a|, max |input|): the absolute bar for values of magnitude <= 1,
        the same bar relative to the largest magnitude on the output's path above it. float32 rounding
        grows with the magnitude, so a fixed absolute bar fails deep models on noise: 24 layers at hidden
        1024 with trained-looking weights end at |h| ~ 30 with 6e-5 abs (2e-6 rel) difference, which the
        tanh pooler carries into a bounded output as 1.03e-5. A wrong weight is off by 1e-2 or more."""
        return self.max_abs <= atol * max(1.0, self.scale, self.input_scale)

    def padded_differs(self, atol: float) -> bool:
        """Would the padded positions, were they judged, fail the same bar? (reported, never judged)"""
        return self.padded_max_abs is not None and self.padded_max_abs > atol * max(1.0, self.scale, self.input_scale)


def make_batch(family: str, head: str, vocab_size: int, max_positions: int, pad_id: int, seed=0, batch=3, seq=11, num_choices=2):
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
    real = np.asarray(attention_mask).reshape(-1, np.shape(attention_mask)[-1]).astype(bool)
    diffs = []
    hs_t, hs_p = torch_out["hidden_states"], paddle_out["hidden_states"]
    if len(hs_t) != len(hs_p):
        raise AssertionError(f"hidden states: torch has {len(hs_t)}, paddle {len(hs_p)}")
    for i, (a, b) in enumerate(zip(hs_t, hs_p)):
        diffs.append(diff(f"hidden_states[{i}]", a, b, real))
    last = diffs[-1].scale  # the heads read the last hidden state
    for t_name, p_name in HEAD_OUTPUTS[head].items():
        per_token = t_name in PER_TOKEN or f"{t_name}@{head}" in PER_TOKEN
        d = diff(t_name, torch_out[t_name], paddle_out[p_name], real if per_token else None)
        d.input_scale = last
        diffs.append(d)
    return diffs


def diff(name, a, b, real=None) -> Diff:
    """``real``: a [rows, seq] bool mask when ``a`` is per token ([rows, seq, ...]); None to judge it whole."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{name}: torch shape {a.shape}, paddle shape {b.shape}")
    shape, padded = a.shape, None
    if real is not None:
        if a.shape[:2] != real.shape:
            raise AssertionError(f"{name}: shape {a.shape} is not per token of the mask {real.shape}")
        if not real.all():
            padded = float(np.abs(a[~real] - b[~real]).max())
        a, b = a[real], b[real]
    err = float(np.abs(a - b).max())
    scale = float(np.abs(a).max())
    return Diff(name, err, err / scale if scale else err, shape, scale, padded)


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


TABLE_HEAD = ("| output | shape | max abs diff | max rel diff | within | padded positions (not judged) |\n"
              "|---|---|---|---|---|---|")


def table_row(name, shape, max_abs, max_rel, within, padded_max_abs) -> str:
    padded = "—" if padded_max_abs is None else f"{padded_max_abs:.2e}"
    return (f"| {name} | {'×'.join(map(str, shape))} | {max_abs:.2e} | {max_rel:.2e} | {'yes' if within else 'NO'} "
            f"| {padded} |")


def format_table(diffs: list, atol: float) -> str:
    return "\n".join([TABLE_HEAD] + [table_row(d.name, d.shape, d.max_abs, d.max_rel, d.within(atol), d.padded_max_abs)
                                     for d in diffs])
