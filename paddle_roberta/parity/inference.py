"""A Paddle Inference export compared before it is moved into place: its predictor (``serving.Predictor``, oneDNN on)
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

PREDICTOR = "Paddle Inference predictor (oneDNN, 2 threads)"


def verify_export(predictor, paddle_dir, model, fam, head, spec, source, atol, dtype):
    """The ``Report`` of the export that ``predictor`` runs: ``model`` is the dygraph PaddleNLP model of ``paddle_dir``
    it came from, ``source`` the torch original's directory or None, ``dtype`` the directory's stored dtype."""
    if spec.get("sentence"):
        return _verify_sentences(predictor, paddle_dir, model, source, atol, dtype)
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
    return build_report(f"{PREDICTOR} vs {reference}, {len(real)} sequences", atol, rows, reference=reference)


def _verify_sentences(predictor, paddle_dir, model, source, atol, dtype):
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
    return build_report(f"{PREDICTOR}, Predictor.encode vs {reference}", atol, rows, bar="x max(1, max|embedding|)",
                        notes=[sentence_note(info, "the export's Predictor.encode vs the reference")],
                        reference=reference)


class _EncoderSide:
    """``sentence_rows``' reference side from a dygraph ``SentenceEncoder`` (no torch original given)."""

    def __init__(self, encoder):
        self.encoder = encoder

    def call(self, name, src, texts, prompt_name, dtype, precision="float32"):
        if precision == "float64":
            return self.encoder.encode_float64(texts, prompt_name=prompt_name)
        return self.encoder.encode(texts, prompt_name=prompt_name, batch_size=4)
