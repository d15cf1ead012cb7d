"""config.json both ways: PaddleNLP's form from a Hugging Face one (``paddle_config``) and back (``hf_config``),
the sizes from the planned shapes (``plan.dims``), the rest from one list of keys carried over as they are."""

from __future__ import annotations

from .plan import Plan, num_labels

# Carried over exactly, in both directions, when the source has them; the sizes come from the tensors (plan.dims).
COPIED = (
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "classifier_dropout",
    "problem_type",
)
# Copied into PaddleNLP's config as they are; written back for transformers' classifiers to fit the head's size.
LABELS = ("id2label", "label2id")
# The sizes two configs of one model share on both sides (the names are the same in transformers and PaddleNLP).
SIZE_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def size_difference(a: dict, b: dict):
    """The first size in which the configs ``a`` and ``b`` differ, as (key, a's, b's); None when they agree (a key
    that one of them lacks is not compared)."""
    return next(((k, a[k], b[k]) for k in SIZE_KEYS if k in a and k in b and a[k] != b[k]), None)


def paddle_config(source_config: dict, plan: Plan, dtype: str, num_choices: int, source: str,
                  pad_token_id=None) -> dict:
    """``pad_token_id``: the id the source's tokenizer pads with, when it has one (``tokenizer.vocab``)."""
    config = {
        "architectures": [plan.paddle_class],
        **_sizes(plan, source_config),
        "num_labels": plan.dims["L"],
        "dtype": dtype,
        "tie_word_embeddings": True,  # both PaddleNLP LM heads tie the decoder to the embeddings
    }
    for key in COPIED + LABELS:
        if key in source_config:
            config[key] = source_config[key]
    # transformers' defaults where the source omits them (PaddleNLP's RobertaConfig would default pad_token_id to 0)
    config.setdefault("layer_norm_eps", 1e-12)
    config.setdefault("pad_token_id", plan.family.pad_token_id)
    if pad_token_id is not None:
        config["pad_token_id"] = pad_token_id
    config.setdefault("hidden_act", "gelu")
    if plan.family.pool_act:
        config["pool_act"] = plan.family.pool_act
    if plan.head == "ForCausalLM" and plan.family.builds_causal_mask:
        config["is_decoder"] = True  # XLMRobertaModel masks future tokens from this, as transformers does
    if plan.head == "ForQuestionAnswering":
        config["num_labels"] = 2  # start and end logits (PaddleNLP's XLM-R QA head is sized by num_labels)
    if plan.head == "ForMultipleChoice":
        config["num_choices"] = num_choices  # PaddleNLP's BertForMultipleChoice reshapes by it
    config["paddle_roberta"] = {"source": source, "source_architectures": source_config.get("architectures")}
    return config


def hf_config(config: dict, plan: Plan, torch_dtype: str) -> dict:
    """transformers' config.json for the PaddleNLP ``config`` of an export plan."""
    out = {
        "architectures": [plan.hf_class],
        **_sizes(plan, config),
        "torch_dtype": torch_dtype,
    }
    for key in COPIED:
        if config.get(key) is not None:
            out[key] = config[key]
    if plan.head in ("ForSequenceClassification", "ForTokenClassification"):
        n = num_labels(config)
        labels = config.get("id2label")
        if not (isinstance(labels, dict) and len(labels) == n):
            labels = {str(i): f"LABEL_{i}" for i in range(n)}
        out["id2label"] = {str(k): v for k, v in labels.items()}
        out["label2id"] = {v: int(k) for k, v in labels.items()}
    if plan.head == "ForCausalLM":
        out["is_decoder"] = True
    return out


def _sizes(plan: Plan, config: dict) -> dict:
    """The family and sizes, the same keys on both sides: from the tensors where they say them."""
    d = plan.dims
    return {"model_type": plan.family.name, "vocab_size": d["V"], "hidden_size": d["H"],
            "num_hidden_layers": d["layers"],
            "num_attention_heads": config["num_attention_heads"], "intermediate_size": d["I"],
            "max_position_embeddings": d["P"], "type_vocab_size": d["Y"]}
