"""config.json in PaddleNLP's form, built from the Hugging Face one and the planned shapes."""

from __future__ import annotations

from .plan import Plan

# Carried over exactly when the source has them; the sizes come from the tensors (plan.dims).
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
    "id2label",
    "label2id",
    "problem_type",
)


def paddle_config(hf_config: dict, plan: Plan, dtype: str, num_choices: int, source: str, pad_token_id=None) -> dict:
    """``pad_token_id``: the id the source's tokenizer pads with, when it has one (``tokenizer_vocab``)."""
    d = plan.dims
    config = {
        "architectures": [plan.paddle_class],
        "model_type": plan.family.name,
        "vocab_size": d["V"],
        "hidden_size": d["H"],
        "num_hidden_layers": d["layers"],
        "num_attention_heads": hf_config["num_attention_heads"],
        "intermediate_size": d["I"],
        "max_position_embeddings": d["P"],
        "type_vocab_size": d["Y"],
        "num_labels": d["L"],
        "dtype": dtype,
        "tie_word_embeddings": True,  # both PaddleNLP LM heads tie the decoder to the embeddings
    }
    for key in COPIED:
        if key in hf_config:
            config[key] = hf_config[key]
    # transformers' defaults where the source omits them (PaddleNLP's RobertaConfig would default pad_token_id to 0)
    config.setdefault("layer_norm_eps", 1e-12)
    config.setdefault("pad_token_id", 0 if plan.family.name == "bert" else 1)
    if pad_token_id is not None:
        config["pad_token_id"] = pad_token_id
    config.setdefault("hidden_act", "gelu")
    if plan.family.name == "bert":
        config["pool_act"] = "tanh"
    if plan.head == "ForCausalLM" and plan.family.builds_causal_mask:
        config["is_decoder"] = True  # XLMRobertaModel masks future tokens from this, as transformers does
    if plan.head == "ForQuestionAnswering":
        config["num_labels"] = 2  # start and end logits (PaddleNLP's XLM-R QA head is sized by num_labels)
    if plan.head == "ForMultipleChoice":
        config["num_choices"] = num_choices  # PaddleNLP's BertForMultipleChoice reshapes by it
    config["paddle_roberta"] = {"source": source, "source_architectures": hf_config.get("architectures")}
    return config
