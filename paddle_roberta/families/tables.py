"""Declarative tensor tables: Hugging Face name -> PaddleNLP name, layout and expected shape.

Each row is a ``Row(hf, paddle, layout, shape)``:

- names are relative to the base model (``bert.`` / ``roberta.`` prefixes are added by
  ``plan.py``) unless the row belongs to a head; ``{i}`` is the encoder layer index;
- layout ``T`` means a ``Linear`` weight: torch stores ``[out, in]``, paddle ``[in, out]``,
  so the tensor is transposed. Transposes come only from this column, never from shapes
  (square matrices would make a guess silently wrong);
- the shape is in the Hugging Face layout, in symbols of the config: V vocab_size,
  H hidden_size, I intermediate_size, P max_position_embeddings, Y type_vocab_size,
  L num_labels; numbers are literal.

Check the PaddleNLP side against ``paddlenlp/transformers/{bert,roberta}/modeling.py``:
BertEmbeddings / RobertaEmbeddings, ``nn.TransformerEncoderLayer`` (self_attn, linear1,
linear2, norm1, norm2), BertPooler, BertLMPredictionHead, RobertaLMHead,
RobertaClassificationHead; and ``paddlenlp/transformers/xlm_roberta/modeling.py``, a port of
transformers' module tree (XLMRobertaEmbeddings, XLMRobertaLayer, XLMRobertaLMHead, ...) whose
names are transformers' own: only the layout column differs there.

The same rows are read both ways: ``plan.make_plan`` left to right (convert), ``plan.export_plan`` right to left
(export to Hugging Face, and mapping one family's PaddleNLP weights onto another's for Paddle Inference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

KEEP = "keep"
T = "transpose"


class Row(NamedTuple):
    hf: object  # transformers name; in head tables a tuple of names a checkpoint ties together
    paddle: str  # PaddleNLP name
    layout: str  # KEEP or T
    shape: tuple  # in transformers' layout, in the config's symbols (V, H, I, P, Y, L) or literal numbers


def _rows(*rows) -> tuple:
    return tuple(Row(*r) for r in rows)

EMBEDDINGS = _rows(
    ("embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight", KEEP, ("V", "H")),
    ("embeddings.position_embeddings.weight", "embeddings.position_embeddings.weight", KEEP, ("P", "H")),
    ("embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight", KEEP, ("Y", "H")),
    ("embeddings.LayerNorm.weight", "embeddings.layer_norm.weight", KEEP, ("H",)),
    ("embeddings.LayerNorm.bias", "embeddings.layer_norm.bias", KEEP, ("H",)),
)

# One encoder layer; PaddleNLP builds it from paddle.nn.TransformerEncoderLayer (post-norm).
ENCODER_LAYER = _rows(
    ("encoder.layer.{i}.attention.self.query.weight", "encoder.layers.{i}.self_attn.q_proj.weight", T, ("H", "H")),
    ("encoder.layer.{i}.attention.self.query.bias", "encoder.layers.{i}.self_attn.q_proj.bias", KEEP, ("H",)),
    ("encoder.layer.{i}.attention.self.key.weight", "encoder.layers.{i}.self_attn.k_proj.weight", T, ("H", "H")),
    ("encoder.layer.{i}.attention.self.key.bias", "encoder.layers.{i}.self_attn.k_proj.bias", KEEP, ("H",)),
    ("encoder.layer.{i}.attention.self.value.weight", "encoder.layers.{i}.self_attn.v_proj.weight", T, ("H", "H")),
    ("encoder.layer.{i}.attention.self.value.bias", "encoder.layers.{i}.self_attn.v_proj.bias", KEEP, ("H",)),
    ("encoder.layer.{i}.attention.output.dense.weight", "encoder.layers.{i}.self_attn.out_proj.weight", T, ("H", "H")),
    ("encoder.layer.{i}.attention.output.dense.bias", "encoder.layers.{i}.self_attn.out_proj.bias", KEEP, ("H",)),
    ("encoder.layer.{i}.attention.output.LayerNorm.weight", "encoder.layers.{i}.norm1.weight", KEEP, ("H",)),
    ("encoder.layer.{i}.attention.output.LayerNorm.bias", "encoder.layers.{i}.norm1.bias", KEEP, ("H",)),
    ("encoder.layer.{i}.intermediate.dense.weight", "encoder.layers.{i}.linear1.weight", T, ("I", "H")),
    ("encoder.layer.{i}.intermediate.dense.bias", "encoder.layers.{i}.linear1.bias", KEEP, ("I",)),
    ("encoder.layer.{i}.output.dense.weight", "encoder.layers.{i}.linear2.weight", T, ("H", "I")),
    ("encoder.layer.{i}.output.dense.bias", "encoder.layers.{i}.linear2.bias", KEEP, ("H",)),
    ("encoder.layer.{i}.output.LayerNorm.weight", "encoder.layers.{i}.norm2.weight", KEEP, ("H",)),
    ("encoder.layer.{i}.output.LayerNorm.bias", "encoder.layers.{i}.norm2.bias", KEEP, ("H",)),
)

POOLER = _rows(
    ("pooler.dense.weight", "pooler.dense.weight", T, ("H", "H")),
    ("pooler.dense.bias", "pooler.dense.bias", KEEP, ("H",)),
)

# XLM-RoBERTa: PaddleNLP's xlm_roberta module tree keeps transformers' names (LayerNorm, encoder.layer,
# attention.self.query, ...); Linear weights are still stored [in, out], so the layout column still matters.
XLM_EMBEDDINGS = tuple(r._replace(paddle=r.hf) for r in EMBEDDINGS)
XLM_ENCODER_LAYER = tuple(r._replace(paddle=r.hf) for r in ENCODER_LAYER)

# Heads: names are absolute (no base prefix) except ``{base}``, the base model's prefix on each side. A PaddleNLP name
# may take its value from several
# HF names that a checkpoint ties together (MLM decoder = word embeddings, decoder bias = head
# bias): ``plan.py`` uses the first one present and refuses the checkpoint unless every other
# one present is exactly equal, because the PaddleNLP class ties them too.
WORD_EMBEDDINGS = "{base}embeddings.word_embeddings.weight"

BERT_MLM = _rows(
    ("cls.predictions.transform.dense.weight", "cls.predictions.transform.weight", T, ("H", "H")),
    ("cls.predictions.transform.dense.bias", "cls.predictions.transform.bias", KEEP, ("H",)),
    ("cls.predictions.transform.LayerNorm.weight", "cls.predictions.layer_norm.weight", KEEP, ("H",)),
    ("cls.predictions.transform.LayerNorm.bias", "cls.predictions.layer_norm.bias", KEEP, ("H",)),
    (("cls.predictions.bias", "cls.predictions.decoder.bias"), "cls.predictions.decoder_bias", KEEP, ("V",)),
    (("cls.predictions.bias", "cls.predictions.decoder.bias"), "cls.predictions.decoder.bias", KEEP, ("V",)),
    ((WORD_EMBEDDINGS, "cls.predictions.decoder.weight"), "cls.predictions.decoder.weight", KEEP, ("V", "H")),
)
BERT_NSP = _rows(
    ("cls.seq_relationship.weight", "cls.seq_relationship.weight", T, (2, "H")),
    ("cls.seq_relationship.bias", "cls.seq_relationship.bias", KEEP, (2,)),
)
BERT_CLASSIFIER = _rows(
    ("classifier.weight", "classifier.weight", T, ("L", "H")),
    ("classifier.bias", "classifier.bias", KEEP, ("L",)),
)
ONE_CHOICE_SCORE = _rows(
    ("classifier.weight", "classifier.weight", T, (1, "H")),
    ("classifier.bias", "classifier.bias", KEEP, (1,)),
)
SPAN_LOGITS = _rows(  # start/end logits: HF calls the layer qa_outputs, PaddleNLP classifier
    ("qa_outputs.weight", "classifier.weight", T, (2, "H")),
    ("qa_outputs.bias", "classifier.bias", KEEP, (2,)),
)
ROBERTA_LM = _rows(
    ("lm_head.dense.weight", "lm_head.dense.weight", T, ("H", "H")),
    ("lm_head.dense.bias", "lm_head.dense.bias", KEEP, ("H",)),
    ("lm_head.layer_norm.weight", "lm_head.layer_norm.weight", KEEP, ("H",)),
    ("lm_head.layer_norm.bias", "lm_head.layer_norm.bias", KEEP, ("H",)),
    (("lm_head.bias", "lm_head.decoder.bias"), "lm_head.bias", KEEP, ("V",)),
    (("lm_head.bias", "lm_head.decoder.bias"), "lm_head.decoder.bias", KEEP, ("V",)),
    ((WORD_EMBEDDINGS, "lm_head.decoder.weight"), "lm_head.decoder.weight", KEEP, ("V", "H")),
)
# XLMRobertaLMHead ties its decoder to the word embeddings by reference (no decoder parameter of its
# own), so a checkpoint's lm_head.decoder.weight is not written: it must equal the word embeddings,
# which is what this row says (a second row for the same PaddleNLP tensor adds sources, see plan.py).
XLM_LM = _rows(
    ("lm_head.dense.weight", "lm_head.dense.weight", T, ("H", "H")),
    ("lm_head.dense.bias", "lm_head.dense.bias", KEEP, ("H",)),
    ("lm_head.layer_norm.weight", "lm_head.layer_norm.weight", KEEP, ("H",)),
    ("lm_head.layer_norm.bias", "lm_head.layer_norm.bias", KEEP, ("H",)),
    (("lm_head.bias", "lm_head.decoder.bias"), "lm_head.bias", KEEP, ("V",)),
    ((WORD_EMBEDDINGS, "lm_head.decoder.weight"), WORD_EMBEDDINGS, KEEP, ("V", "H")),
)
XLM_SPAN_LOGITS = _rows(  # PaddleNLP's XLMRobertaForQuestionAnswering keeps the name qa_outputs
    ("qa_outputs.weight", "qa_outputs.weight", T, (2, "H")),
    ("qa_outputs.bias", "qa_outputs.bias", KEEP, (2,)),
)
ROBERTA_CLASSIFICATION_HEAD = _rows(
    ("classifier.dense.weight", "classifier.dense.weight", T, ("H", "H")),
    ("classifier.dense.bias", "classifier.dense.bias", KEEP, ("H",)),
    ("classifier.out_proj.weight", "classifier.out_proj.weight", T, ("L", "H")),
    ("classifier.out_proj.bias", "classifier.out_proj.bias", KEEP, ("L",)),
)

# What another head's tensors are, for the message when a checkpoint carries more heads than the class
# it names (bert-base-* ship the BertForPreTraining state dict under architectures BertForMaskedLM).
# Only exact names from the family's own head tables are dropped this way, never unknown tensors.
HEAD_LABELS = {
    "cls.predictions.": "MLM head",
    "cls.seq_relationship.": "NSP head",
    "lm_head.": "LM head",
    "classifier.": "classification head",
    "qa_outputs.": "question-answering head",
}

# Why a head's size is fixed in PaddleNLP, for the error when a checkpoint's is not.
FIXED_SIZE_REASONS = {
    "qa_outputs.": "PaddleNLP's *ForQuestionAnswering has exactly 2 outputs (start and end logits)",
    "cls.seq_relationship.": "the next-sentence head has exactly 2 outputs",
    "classifier.": "*ForMultipleChoice scores each choice with 1 output",
}

# Tensors a checkpoint may hold that are not weights; they are dropped on purpose (fnmatch patterns).
DROPPED = (
    "*embeddings.position_ids",  # buffer 0..P-1, rebuilt by both frameworks
    "*embeddings.token_type_ids",  # all-zero buffer of newer transformers
)


@dataclass(frozen=True)
class Head:
    hf_class: str  # transformers' class
    paddle_class: str  # PaddleNLP's (the same name but for BertForPretraining)
    rows: tuple = ()
    # Does the PaddleNLP class build a pooler? (HF's MaskedLM/TokenClassification/QA heads do not.)
    paddle_pooler: bool = True
    # Does the transformers class have one (``add_pooling_layer``)? Export writes the pooler only then.
    hf_pooler: bool = False


@dataclass(frozen=True)
class Family:
    name: str  # model_type, the same in transformers and PaddleNLP
    class_prefix: str  # "Bert" in BertForMaskedLM: the same on both sides
    base_prefix: str  # PaddleNLP base_model_prefix
    heads: dict = field(default_factory=dict)  # head key (the class name after the prefix) -> Head
    embeddings: tuple = EMBEDDINGS
    encoder_layer: tuple = ENCODER_LAYER
    pooler: tuple = POOLER
    # Position ids start at pad_token_id + 1 (fairseq's convention): the model takes P - pad - 1 tokens.
    positions_after_pad: bool = False
    token_types: bool = False  # tokenizers make token_type_ids (two segments)
    # Does the PaddleNLP model build the causal mask of a *ForCausalLM itself (from is_decoder)?
    # PaddleNLP's RobertaForCausalLM does not: the caller passes it.
    builds_causal_mask: bool = False
    # With no attention_mask, does the PaddleNLP model mask the pad_token_id positions? (BERT and RoBERTa do;
    # XLM-RoBERTa, a port of transformers' code, attends to every token, as transformers does.)
    masks_pad_by_default: bool = True
    pad_token_id: int = 1  # transformers' default where a config omits it (PaddleNLP's RobertaConfig would say 0)
    pool_act: str | None = None  # PaddleNLP's BertConfig has a pool_act setting; transformers' pooler is tanh

    def positions(self, max_positions: int, pad_token_id: int) -> int:
        """How many tokens one sequence can have."""
        return max_positions - (pad_token_id + 1 if self.positions_after_pad else 0)

    def paddle_class(self, head: str) -> str:
        return self.heads[head].paddle_class

    def hf_class(self, head: str) -> str:
        return self.heads[head].hf_class

    def prefix(self, head: str) -> str:
        """The base model's prefix in tensor names: none for the bare model, ``bert.`` / ``roberta.`` under a head."""
        return "" if head == "Model" else self.base_prefix + "."


BERT = Family(
    name="bert",
    class_prefix="Bert",
    base_prefix="bert",
    token_types=True,
    pad_token_id=0,
    pool_act="tanh",
    heads={
        "Model": Head("BertModel", "BertModel", hf_pooler=True),
        "ForMaskedLM": Head("BertForMaskedLM", "BertForMaskedLM", BERT_MLM),
        "ForPreTraining": Head("BertForPreTraining", "BertForPretraining", BERT_MLM + BERT_NSP, hf_pooler=True),
        "ForSequenceClassification": Head("BertForSequenceClassification", "BertForSequenceClassification",
                                          BERT_CLASSIFIER, hf_pooler=True),
        "ForTokenClassification": Head("BertForTokenClassification", "BertForTokenClassification", BERT_CLASSIFIER),
        "ForQuestionAnswering": Head("BertForQuestionAnswering", "BertForQuestionAnswering", SPAN_LOGITS),
        "ForMultipleChoice": Head("BertForMultipleChoice", "BertForMultipleChoice", ONE_CHOICE_SCORE, hf_pooler=True),
    },
)

ROBERTA = Family(
    name="roberta",
    class_prefix="Roberta",
    base_prefix="roberta",
    positions_after_pad=True,
    heads={
        "Model": Head("RobertaModel", "RobertaModel", hf_pooler=True),
        "ForMaskedLM": Head("RobertaForMaskedLM", "RobertaForMaskedLM", ROBERTA_LM, paddle_pooler=False),
        "ForCausalLM": Head("RobertaForCausalLM", "RobertaForCausalLM", ROBERTA_LM, paddle_pooler=False),
        "ForSequenceClassification": Head("RobertaForSequenceClassification", "RobertaForSequenceClassification",
                                          ROBERTA_CLASSIFICATION_HEAD, paddle_pooler=False),
        "ForTokenClassification": Head("RobertaForTokenClassification", "RobertaForTokenClassification",
                                       BERT_CLASSIFIER, paddle_pooler=False),
        "ForQuestionAnswering": Head("RobertaForQuestionAnswering", "RobertaForQuestionAnswering", SPAN_LOGITS,
                                     paddle_pooler=False),
        "ForMultipleChoice": Head("RobertaForMultipleChoice", "RobertaForMultipleChoice", ONE_CHOICE_SCORE,
                                  hf_pooler=True),
    },
)

XLM_ROBERTA = Family(
    name="xlm-roberta",
    class_prefix="XLMRoberta",
    base_prefix="roberta",
    embeddings=XLM_EMBEDDINGS,
    encoder_layer=XLM_ENCODER_LAYER,
    positions_after_pad=True,
    builds_causal_mask=True,
    masks_pad_by_default=False,
    heads={
        "Model": Head("XLMRobertaModel", "XLMRobertaModel", hf_pooler=True),
        "ForMaskedLM": Head("XLMRobertaForMaskedLM", "XLMRobertaForMaskedLM", XLM_LM, paddle_pooler=False),
        "ForCausalLM": Head("XLMRobertaForCausalLM", "XLMRobertaForCausalLM", XLM_LM, paddle_pooler=False),
        "ForSequenceClassification": Head("XLMRobertaForSequenceClassification", "XLMRobertaForSequenceClassification",
                                          ROBERTA_CLASSIFICATION_HEAD, paddle_pooler=False),
        "ForTokenClassification": Head("XLMRobertaForTokenClassification", "XLMRobertaForTokenClassification",
                                       BERT_CLASSIFIER, paddle_pooler=False),
        "ForQuestionAnswering": Head("XLMRobertaForQuestionAnswering", "XLMRobertaForQuestionAnswering",
                                     XLM_SPAN_LOGITS, paddle_pooler=False),
        "ForMultipleChoice": Head("XLMRobertaForMultipleChoice", "XLMRobertaForMultipleChoice", ONE_CHOICE_SCORE,
                                  hf_pooler=True),
    },
)

FAMILIES = {f.name: f for f in (BERT, ROBERTA, XLM_ROBERTA)}

# model_type -> (family, transformers' class-name prefix) for bodies transformers names otherwise: CamembertModel is
# RobertaModel (same modules, same tensor names); its tokenizer is not XLM-R's (tokenizer.kind.CAMEMBERT).
ALIASES = {"camembert": ("roberta", "Camembert")}

# HF architectures that neither PaddleNLP class family can express; named so the error says why.
NO_PADDLE_CLASS = {
    "BertLMHeadModel": "PaddleNLP has no BertForCausalLM",
    "BertForNextSentencePrediction": "PaddleNLP has no BertForNextSentencePrediction",
}


def find_class(name: str, family: Family | None = None) -> tuple | None:
    """``(family, head key)`` of a class name on either side (``BertForPreTraining`` or PaddleNLP's
    ``BertForPretraining``), or of a bare head key when ``family`` is given; None when no table has it."""
    for fam in (family,) if family else FAMILIES.values():
        for head, spec in fam.heads.items():
            if name in (spec.hf_class, spec.paddle_class) or (family and name == head):
                return fam, head
    return None


def family_and_head(class_name: str) -> tuple:
    """``(family, head key)`` of a PaddleNLP or transformers class name (ValueError when no table has it)."""
    found = find_class(class_name)
    if found is None:
        raise ValueError(f"{class_name} is not a class of {', '.join(FAMILIES)}")
    return found


def hf_class_for(paddle_class: str) -> str:
    """transformers' class for a PaddleNLP class name (ValueError when no table has it)."""
    fam, head = family_and_head(paddle_class)
    return fam.hf_class(head)
