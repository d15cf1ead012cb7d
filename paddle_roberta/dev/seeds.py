"""The seed models: their architectures, exactly, so checkpoints of the same shape can be built here.

Hub weights cannot be fetched on the machines this project runs on, so tests, the demo and the
benchmark build random, seeded checkpoints at these shapes with transformers (``synthetic.py``).
CLUE config values marked "inferred" come from the model cards and the file sizes, not from the
hub's config.json files, which cannot be read here: the cards load these models with transformers'
BertTokenizer and BertModel, so they are BERT-structured (positions from 0, type vocab 2, WordPiece
WordPiece vocabulary of 8021 lines, intermediate 4 x hidden, gelu), while their config.json is taken to say
``model_type: "roberta"`` with no ``architectures``, ``pad_token_id`` 1, ``layer_norm_eps`` 1e-12 and 512
positions; the ~1.31 GB large files fit a 21128-row word embedding, not 8021 (docs/support.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seed:
    name: str  # hub id
    hf_class: str  # the class its model card loads it with
    config: dict  # config.json as the hub ships it (CLUE: inferred)
    paddle_class: str
    vocab: str  # a tokenizer kind (tokenizer.kind): "wordpiece", "bpe" or "sentencepiece"
    params: str
    file_size: str


def _clue(layers, hidden, heads, vocab=8021):
    # Inferred: model_type roberta, no architectures, pad 1, BERT structure (see the module's docstring).
    return {
        "model_type": "roberta",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 1,
    }


DISTILROBERTA_BASE = {
    "architectures": ["RobertaForMaskedLM"],
    "model_type": "roberta",
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-05,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}

# config.json of the hub's xlm-roberta-base (FacebookAI/xlm-roberta-base), as transformers reads it.
XLM_ROBERTA_BASE = {
    "architectures": ["XLMRobertaForMaskedLM"],
    "model_type": "xlm-roberta",
    "vocab_size": 250002,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-05,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "position_embedding_type": "absolute",
}

SEEDS = {
    s.name: s
    for s in (
        Seed("clue/roberta_chinese_clue_tiny", "BertModel", _clue(4, 312, 12), "BertModel", "wordpiece", "7.5M",
             "~30 MB"),
        Seed("clue/roberta_chinese_pair_tiny", "BertModel", _clue(4, 312, 12), "BertModel", "wordpiece", "7.5M",
             "~30 MB"),
        Seed("clue/roberta_chinese_3L768_clue_tiny", "BertModel", _clue(3, 768, 12), "BertModel", "wordpiece", "38M",
             "~116 MB"),
        Seed("clue/roberta_chinese_3L312_clue_tiny", "BertModel", _clue(3, 312, 12), "BertModel", "wordpiece", "<7.5M",
             "~26 MB"),
        # The large files (~1.31 GB) fit a 21128-row embedding, not 8021 (inferred from size).
        Seed("clue/roberta_chinese_clue_large", "BertModel", _clue(24, 1024, 16, 21128), "BertModel", "wordpiece",
             "290M+", "~1.3 GB"),
        Seed("clue/roberta_chinese_pair_large", "BertModel", _clue(24, 1024, 16, 21128), "BertModel", "wordpiece",
             "290M+", "~1.3 GB"),
        Seed("distilroberta-base", "RobertaForMaskedLM", DISTILROBERTA_BASE, "RobertaForMaskedLM", "bpe", "82M",
             "~330 MB"),
        Seed("xlm-roberta-base", "XLMRobertaForMaskedLM", XLM_ROBERTA_BASE, "XLMRobertaForMaskedLM", "sentencepiece",
             "278M",
             "~1.1 GB"),
    )
}
