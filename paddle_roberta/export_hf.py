"""PaddleNLP directory -> Hugging Face PyTorch directory: the way back, from the same tables.

Reads a PaddleNLP Bert*/Roberta*/XLMRoberta* directory (one this tool converted, or one PaddleNLP's
``save_pretrained`` wrote: ``model_state.pdparams`` or ``model.safetensors``, PaddleNLP's config.json),
maps every tensor back through ``plan.table_rows`` — the rows ``convert`` uses, read right to left —
and writes ``model.safetensors`` in transformers' layout, a transformers config.json and the
tokenizer files transformers' ``AutoTokenizer`` loads. Verified by default: transformers loads the
result and ``verify`` compares it with PaddleNLP's outputs on the source, before it is moved into place.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from . import mapping
from .check import hf_class_for
from .convert import transpose, verified, verify_policy
from .errors import ConversionError
from .output_dir import building, check_output, write_json, write_marker
from .pdparams import read_pdparams
from .plan import num_labels, table_rows
from .signals import pause_point
from .source import read_config, read_json_object
from .tokenizer_files import SOURCE_ADDED_TOKENS
from .tokenizer_kind import SENTENCEPIECE_FILE as SENTENCEPIECE
from .weight_files import PADDLE_FORMATS, choose
from .writers import SafetensorsWriter

# PaddleNLP config keys carried into transformers' config.json as they are.
COPIED = ("hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range", "layer_norm_eps",
          "pad_token_id", "bos_token_id", "eos_token_id", "classifier_dropout", "problem_type")


def export(paddle_dir, dest, *, to="huggingface", overwrite=False, verify=None, atol=1e-5, weights=None) -> dict:
    """Write the Hugging Face directory ``dest`` for the PaddleNLP directory ``paddle_dir``.
    Returns {"path", "hf_class", "tensors", "dropped", "verify_report"}; ConversionError on bad input or a
    failed verification, leaving nothing at ``dest``."""
    if to != "huggingface":
        raise ConversionError(f"export --to {to!r}: only huggingface is supported")
    verify, _ = verify_policy(verify)
    src = os.path.abspath(os.fspath(paddle_dir))
    dest = os.path.abspath(os.fspath(dest))
    if not os.path.isdir(src):
        raise ConversionError(f"{src}: no such directory")
    check_output(dest, src, overwrite)
    pause_point("reading")
    config_path = os.path.join(src, "config.json")
    config = read_config(config_path)
    state, weights_path = _read_weights(src, weights)
    fam, head = _family_and_head(config, config_path)
    spec = fam.heads[head]
    prefix = "" if head == "Model" else fam.base_prefix + "."
    layers = config.get("num_hidden_layers")
    if not isinstance(layers, int) or layers < 1:
        raise ConversionError(f"{config_path}: num_hidden_layers must be a positive integer, found {layers!r}")
    rows, pooler_rows = table_rows(fam, head, layers, prefix, prefix)
    # transformers' names in a family whose PaddleNLP names differ, or a config transformers wrote
    # (XLM-RoBERTa's names are the same on both sides: only the config tells)
    renamed = any(hf != pd for hf, pd, *_ in fam.embeddings)
    if written_by_transformers(config) or (renamed and any(".LayerNorm." in name for name in state)):
        raise ConversionError(f"{weights_path}: transformers' tensor names (LayerNorm): a Hugging Face directory, "
                              "not a PaddleNLP one; export reads what convert or PaddleNLP's save_pretrained wrote")
    tensors, used = {}, set()
    word = prefix + "embeddings.word_embeddings.weight"
    for hf_names, pd_name, layout, _ in rows + (pooler_rows if spec.hf_pooler else []):
        if pd_name not in state:
            raise ConversionError(f"{weights_path}: tensor {pd_name} is missing ({spec.paddle_class} has it)")
        value = state[pd_name]
        used.add(pd_name)
        hf_name = hf_names[0]
        if hf_name == word and pd_name != word:  # a decoder tied to the word embeddings: transformers ties it too
            if not np.array_equal(value, state[word]):
                raise ConversionError(f"{weights_path}: {pd_name} differs from {word}; transformers ties them, so this "
                                      "model cannot be expressed")
            continue
        value = transpose(value) if layout == mapping.T else value
        if hf_name in tensors:  # two PaddleNLP copies of one tied transformers tensor (the MLM bias)
            if not np.array_equal(tensors[hf_name], value):
                raise ConversionError(f"{weights_path}: {pd_name} differs from the tensor it is tied to ({hf_name})")
            continue
        tensors[hf_name] = np.ascontiguousarray(value)
    dropped = sorted(set(state) - used)
    unexpected = [n for n in dropped if not (n.startswith(prefix + "pooler.") and not spec.hf_pooler)]
    if unexpected:
        raise ConversionError(f"{weights_path}: tensor {unexpected[0]} has no place in transformers' {hf_class_for(spec.paddle_class)}")

    hf_class = hf_class_for(spec.paddle_class)
    with building(dest, overwrite) as tmp:
        pause_point("converting")
        names = sorted(tensors)
        writer = SafetensorsWriter(os.path.join(tmp, "model.safetensors"),
                                   [(n, tensors[n].dtype, tensors[n].shape) for n in names], {"format": "pt"})
        for n in names:
            writer.write(n, tensors[n])
        writer.close()
        write_json(os.path.join(tmp, "config.json"), hf_config(config, fam, head, hf_class, tensors, prefix))
        tokenizer = write_hf_tokenizer(src, tmp, fam.name)
        report = None
        if verify:
            report = verified(tmp, src, dest, atol, weights=weights_path)  # the other direction: transformers loads what was written
            pause_point("verifying")
        write_marker(tmp, src, hf_class)
        pause_point("writing")
    return {"path": dest, "hf_class": hf_class, "tensors": len(tensors), "dropped": dropped, "tokenizer": tokenizer,
            "verify_report": report}


def written_by_transformers(config) -> bool:
    """A config.json transformers wrote (not PaddleNLP's save_pretrained, not this tool's conversion)."""
    return "transformers_version" in config and not ({"paddlenlp_version", "paddle_roberta"} & set(config))


def _read_weights(src, weights=None) -> tuple:
    found = choose(src, PADDLE_FORMATS, weights)
    if found is None:
        raise ConversionError(f"{src}: no PaddleNLP weights (model.safetensors or model_state.pdparams)")
    path, kind = found
    if path.endswith(".index.json"):
        raise ConversionError(f"{src}: sharded PaddleNLP weights are not supported yet; save them as one file")
    if path.endswith(".pdparams"):
        return read_pdparams(path), path
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="np") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, path
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise ConversionError(f"{path}: not a readable safetensors file ({str(e)[:120]})") from None


def _family_and_head(config, config_path):
    family = mapping.FAMILIES.get(config.get("model_type"))
    archs = config.get("architectures")
    if family is None or not isinstance(archs, list) or not archs:
        raise ConversionError(f"{config_path}: not a PaddleNLP BERT/RoBERTa config (model_type "
                              f"{config.get('model_type')!r}, architectures {archs!r})")
    for head, spec in family.heads.items():
        if spec.paddle_class == archs[0]:
            return family, head
    raise ConversionError(f"{config_path}: {archs[0]} has no transformers counterpart this tool exports "
                          f"({', '.join(s.paddle_class for s in family.heads.values())})")


def hf_config(config, fam, head, hf_class, tensors, prefix) -> dict:
    V, H = tensors[prefix + "embeddings.word_embeddings.weight"].shape
    out = {
        "architectures": [hf_class],
        "model_type": fam.name,
        "vocab_size": int(V),
        "hidden_size": int(H),
        "num_hidden_layers": config["num_hidden_layers"],
        "num_attention_heads": config["num_attention_heads"],
        "intermediate_size": int(tensors[prefix + "encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "max_position_embeddings": int(tensors[prefix + "embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(tensors[prefix + "embeddings.token_type_embeddings.weight"].shape[0]),
        "torch_dtype": str(tensors[prefix + "embeddings.word_embeddings.weight"].dtype),
    }
    for key in COPIED:
        if config.get(key) is not None:
            out[key] = config[key]
    if head in ("ForSequenceClassification", "ForTokenClassification"):
        n = num_labels(config)
        labels = config.get("id2label")
        if not (isinstance(labels, dict) and len(labels) == n):
            labels = {str(i): f"LABEL_{i}" for i in range(n)}
        out["id2label"] = {str(k): v for k, v in labels.items()}
        out["label2id"] = {v: int(k) for k, v in labels.items()}
    if head == "ForCausalLM":
        out["is_decoder"] = True
    return out


def write_hf_tokenizer(src, dest, family) -> str | None:
    """The tokenizer files transformers' AutoTokenizer loads, from the PaddleNLP ones."""
    config = read_json_object(os.path.join(src, "tokenizer_config.json"), missing_ok=True)
    specials = read_json_object(os.path.join(src, "special_tokens_map.json"), missing_ok=True)
    keep = {k: v for k, v in config.items() if k.endswith("_token") or k in (
        "do_lower_case", "strip_accents", "tokenize_chinese_chars", "add_prefix_space", "errors", "model_max_length")}
    keep = {k: (v.get("content") if isinstance(v, dict) else v) for k, v in keep.items()}
    if os.path.isfile(os.path.join(src, "vocab.txt")):
        names, cls = ["vocab.txt", "tokenizer.json"], "BertTokenizer"
    elif os.path.isfile(os.path.join(src, "vocab.json")) and os.path.isfile(os.path.join(src, "merges.txt")):
        names, cls = ["vocab.json", "merges.txt", "tokenizer.json"], "RobertaTokenizer"
    elif os.path.isfile(os.path.join(src, SENTENCEPIECE)):
        names, cls = [SENTENCEPIECE], "XLMRobertaTokenizer"
    else:
        return None
    for name in names + ["added_tokens.json"]:
        if os.path.isfile(os.path.join(src, name)):
            shutil.copyfile(os.path.join(src, name), os.path.join(dest, name))
    added = config.get(SOURCE_ADDED_TOKENS)
    if isinstance(added, dict):
        # the source's added tokens as transformers declared them: the ones listed as special only for PaddleNLP's
        # slow tokenizers (tokenizer_files._write_added_tokens) are plain added tokens again
        plain = {t.get("content") for t in added.values() if isinstance(t, dict) and not t.get("special")}
        keep["added_tokens_decoder"] = added
        extra = [t for t in specials.get("additional_special_tokens") or []
                 if (t.get("content") if isinstance(t, dict) else t) not in plain]
        specials.pop("additional_special_tokens", None)
        if extra:
            specials["additional_special_tokens"] = extra
            keep["additional_special_tokens"] = [t.get("content") if isinstance(t, dict) else t for t in extra]
    with open(os.path.join(dest, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": cls, **keep}, f, indent=2, ensure_ascii=False)
    # transformers reads the AddedToken form ({"content", "lstrip", ...}) as written for PaddleNLP
    specials = {k: ({f: v[f] for f in ("content", "lstrip", "rstrip", "single_word", "normalized") if f in v}
                    if isinstance(v, dict) else v) for k, v in specials.items()}
    with open(os.path.join(dest, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2, ensure_ascii=False)
    return cls
