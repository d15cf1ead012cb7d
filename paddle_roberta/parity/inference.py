"""A Paddle Inference or ONNX export compared before it is moved into place: its predictor (``serving.Predictor``)
against the torch original (``source``) or else the dygraph PaddleNLP model, on ``verify``'s sentences, at ``verify``'s
bar and positions; a sentence-transformers export by its embeddings (``parity.sentence``)."""

from __future__ import annotations

import os

from ..errors import ConversionError
from ..families.tables import hf_class_for
from . import compare as parity
from .report import build_report
from .sentence import sentence_note, sentence_rows
from .verify import FILL_MASK, SENTENCES

# A lower precision (bfloat16 in Paddle Inference, int8 weights in onnxruntime) is judged against the same export's
# float32 run: |diff| <= LOW_PRECISION_ATOL x max(1, max|output|). The top-1 agreement of logits is reported beside
# it, not judged: a top-1 can only change where float32's lead is under twice the largest difference, so the bar
# already bounds which calls may flip. A wrong weight or a broken graph is off by the output's scale itself. Measured
# on trained-looking weights (AMD EPYC): bfloat16 (8 mantissa bits, 2^-9 relative per rounding): 2 layers 1.4e-2 of
# the scale; 6 x 768 4.1e-2 (241 texts of up to 512 tokens); 24 x 1024 1.6e-2 for the last hidden state, 4.7e-2 for
# the tanh pooler. int8 (onnxruntime's dynamic quantisation of every MatMul's weights, activations quantised per
# call): 2 layers 1.9e-2 of the scale; issue 32 measured 0.1-0.17 on distilroberta-base-sized logits.
LOW_PRECISION_ATOL = {"bfloat16": 1e-1, "int8": 5e-1}


def verify_export(predictor, paddle_dir, model, fam, head, spec, source, atol, dtype, low=None):
    """The ``Report`` of the export that ``predictor`` runs (in float32): ``model`` is the dygraph PaddleNLP model of
    ``paddle_dir`` it came from, ``source`` the torch original's directory or None, ``dtype`` the directory's stored
    dtype; ``low``: the same export's predictor at a lower precision (``low.precision``: bfloat16 or int8), judged
    against ``predictor`` at that precision's bar."""
    if spec.get("sentence"):
        return _verify_sentences(predictor, paddle_dir, model, source, atol, dtype, low)
    cfg = model.config
    if os.path.isfile(os.path.join(predictor.path, "tokenizer_config.json")):
        texts = SENTENCES[fam.name] + [t.format(mask=predictor.tokenizer.mask_token) for t in FILL_MASK[fam.name]]
        choices = getattr(cfg, "num_choices", None) or 2
        inputs = predictor.tokenize([[t] * choices for t in texts] if spec["rank"] == 3 else texts)
    else:
        inputs = parity.make_batch(fam.name, head, cfg.vocab_size, cfg.max_position_embeddings, cfg.pad_token_id,
                                   num_choices=getattr(cfg, "num_choices", None) or 2)
    got = predictor.run(inputs)
    if source is not None:
        import transformers

        reference = "torch original (transformers)"
        torch_class = getattr(transformers, hf_class_for(spec["paddle_class"]))
        torch_model = torch_class.from_pretrained(os.fspath(source)).eval()
        labels = torch_model.config.num_labels
        if head in ("ForSequenceClassification", "ForTokenClassification") and labels != cfg.num_labels:
            raise ConversionError(f"{source}: --source has {labels} labels, this model {cfg.num_labels}: not the model "
                                  "it was converted from (leave --source out to verify against the PaddleNLP model)")
        ref = parity.run_torch(torch_model, inputs)
    else:
        reference = "dygraph PaddleNLP model"
        ref = parity.run_paddle(model, inputs, causal=parity.needs_causal_mask(fam.name, head))
    real = parity.real_tokens(inputs["attention_mask"])
    got = {name: got[name].reshape(ref["hidden_states"][-1].shape if name == "last_hidden_state" else ref[name].shape)
           for name in spec["outputs"]}
    ref = dict(ref, last_hidden_state=ref["hidden_states"][-1])
    rows = [parity.diff("last_hidden_state", ref["last_hidden_state"], got["last_hidden_state"], real)
            ] if "last_hidden_state" in spec["outputs"] else []
    rows += parity.head_diffs(head, ref, got, real, [(n, n) for n in spec["outputs"] if n != "last_hidden_state"])
    after = []
    if low is not None:
        lower = low.run(inputs)
        rows += [low_precision_diff(name, got[name], lower[name].reshape(got[name].shape), low.precision,
                                    real if name in spec["per_token"] else None) for name in spec["outputs"]]
        after = [low_precision_note(low.precision)]
    return build_report(f"{predictor.description} vs {reference}, {len(real)} sequences", atol, rows, after=after,
                        reference=reference, **({"precision": low.precision} if low is not None else {}))


def low_precision_note(precision: str) -> str:
    return (f"({precision} rows: the {precision} predictor vs the float32 one above, judged at a bar of their own: "
            f"max abs diff <= {LOW_PRECISION_ATOL[precision]:g} x max(1, max|output|); logits' top-1 agreement is "
            "reported, not judged: a top-1 can change only where float32's lead is under twice that row's diff)")



def low_precision_diff(name, a, b, precision, real=None):
    """The float32 output ``a`` against ``b``, the same at ``precision``, as a ``Diff`` judged by that precision's bar
    (``low_precision_note``); a logits output also reports its top-1 agreement (the last axis; start/end logits: over
    the real tokens of each row)."""
    import numpy as np

    row = parity.diff(f"{name} ({precision})", a, b, real)
    if row.got_shape is not None:
        return row
    ok = row.max_abs <= LOW_PRECISION_ATOL[precision] * max(1.0, row.scale)
    if name.endswith("logits"):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if real is not None and a.ndim == 2:  # a score per token (QA): the top-1 is a position of the row
            a, b = np.where(real, a, -np.inf), np.where(real, b, -np.inf)
        elif real is not None:
            a, b = a[real], b[real]
        a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
        agree = a.argmax(-1) == b.argmax(-1)
        row.extra = {"top1_agreement": float(agree.mean()), "top1_positions": int(agree.size)}
        row.name += f", top-1 {int(agree.sum())}/{agree.size}"
    row.verdict = ok
    return row


def _verify_sentences(predictor, paddle_dir, model, source, atol, dtype, low=None):
    """The exported graph's embeddings (``Predictor.encode``) against sentence-transformers' encode of the original
    (``source``), or else ``SentenceEncoder`` on the PaddleNLP directory."""
    from .torch_side import TorchSide

    if source is not None:
        reference, side, ref_src = "sentence-transformers on the torch original", TorchSide(), os.path.abspath(source)
    else:
        from ..sentence.encoder import SentenceEncoder

        encoder = SentenceEncoder(paddle_dir, model=model)
        reference, side, ref_src = "SentenceEncoder (dygraph PaddleNLP model)", _EncoderSide(encoder), None
    # a half-precision directory: the original runs as float32 on the same rounded weights (as verify does)
    rows, info = sentence_rows(side, ref_src, predictor, dtype=dtype)
    after = []
    if low is not None:
        texts = SENTENCES["bert"] + SENTENCES["roberta"]
        rows.append(low_precision_diff("sentence_embedding", predictor.encode(texts), low.encode(texts), low.precision))
        after = [low_precision_note(low.precision)]
    return build_report(f"{predictor.description}, Predictor.encode vs {reference}", atol, rows,
                        bar="x max(1, max|embedding|)", after=after, reference=reference,
                        notes=[sentence_note(info, "the export's Predictor.encode vs the reference")],
                        **({"precision": low.precision} if low is not None else {}))


class _EncoderSide:
    """``sentence_rows``' reference side from a dygraph ``SentenceEncoder`` (no torch original given)."""

    def __init__(self, encoder):
        self.encoder = encoder

    def call(self, name, src, texts, prompt_name, dtype, precision="float32"):
        if precision == "float64":
            return self.encoder.encode_float64(texts, prompt_name=prompt_name)
        return self.encoder.encode(texts, prompt_name=prompt_name, batch_size=4)
