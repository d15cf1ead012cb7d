"""What a Paddle Inference export takes and gives (``inference.json``): its inputs in order (``token_type_ids`` for
families with token types; 3-D for multiple choice; the additive causal mask PaddleNLP's RobertaForCausalLM needs),
its outputs in order, which of them are per token, and a sentence-transformers model's embedding output."""

from __future__ import annotations

from ..errors import ConversionError
from ..parity.compare import HEAD_OUTPUTS, PER_TOKEN, needs_causal_mask

STATIC_PREFIX = "auto_static/inference"  # the static graph and its weights, relative to the export directory


def graph_spec(fam, head, config) -> dict:
    rank = 3 if head == "ForMultipleChoice" else 2
    causal = needs_causal_mask(fam.name, head)
    inputs = [{"name": "input_ids", "dtype": "int64", "rank": rank},
              {"name": "attention_mask", "dtype": "float32" if causal else "int64", "rank": 4 if causal else rank}]
    if fam.token_types:
        inputs.append({"name": "token_type_ids", "dtype": "int64", "rank": rank})
    outputs = (["last_hidden_state"] if head == "Model" else []) + list(HEAD_OUTPUTS[head].values())
    per_token = ["last_hidden_state"] + [p for h, p in HEAD_OUTPUTS[head].items()
                                         if h in PER_TOKEN or f"{h}@{head}" in PER_TOKEN]
    return {"family": fam.name, "paddle_class": fam.heads[head].paddle_class, "head": head, "rank": rank,
            "inputs": inputs, "outputs": outputs, "per_token": [o for o in outputs if o in per_token],
            "causal_mask": causal,
            "max_length": fam.positions(config["max_position_embeddings"], config["pad_token_id"]),
            "model_file": None, "params_file": None}


def add_sentence(spec, pipeline):
    """A sentence-transformers model's graph: its one output is the embedding; ``pooling_mask`` (the attention mask
    with the prompt's tokens zeroed) is an input where the pooling leaves the prompt out."""
    if spec["head"] != "Model":
        raise ConversionError(f"sentence_encoder.json beside a {spec['paddle_class']}: a sentence-transformers model's "
                              "body is the bare model")
    spec["outputs"], spec["per_token"] = ["sentence_embedding"], []
    if not pipeline.pooling["include_prompt"]:
        spec["inputs"].append({"name": "pooling_mask", "dtype": "int64", "rank": 2})
    spec["sentence"] = dict(pipeline.as_json(), sentence_transformers={}, dimension=pipeline.dimension,
                            summary=pipeline.summary())
