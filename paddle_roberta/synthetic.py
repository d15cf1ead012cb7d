"""Build random, seeded Hugging Face checkpoints of any BERT/RoBERTa shape, with no download.

Used by the demo, the tests and the benchmark: hub weights cannot be fetched here. Weights are
perturbed after transformers' initialisation so that LayerNorm weights are not 1 and biases
not 0 (an unperturbed model would hide a swapped weight/bias or a missing LayerNorm).
"""

from __future__ import annotations

import json
import os

WORDPIECE_SPECIALS = ["[PAD]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def hf_model(hf_class: str, config: dict, seed: int = 0):
    """A transformers model of class ``hf_class`` (e.g. "BertForMaskedLM") with perturbed random weights."""
    import torch
    import transformers

    config = dict(config)
    config.pop("architectures", None)
    cfg_cls = transformers.RobertaConfig if hf_class.startswith("Roberta") else transformers.BertConfig
    cfg = cfg_cls(**{k: v for k, v in config.items() if k != "model_type"})
    if hf_class.endswith("ForCausalLM"):
        cfg.is_decoder = True
    torch.manual_seed(seed)
    model = getattr(transformers, hf_class)(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def build_checkpoint(out_dir: str, hf_class: str, config: dict, *, seed: int = 0, fmt: str = "safetensors",
                     vocab: str | None = None, config_json: dict | None = None):
    """Save a perturbed random ``hf_class`` to ``out_dir`` as transformers does; return the model.

    ``fmt``: "safetensors" or "bin". ``vocab``: "wordpiece" writes vocab.txt, "bpe" vocab.json and
    merges.txt (placeholder vocabularies of the right size). ``config_json`` replaces the
    config.json transformers writes (e.g. CLUE's, which says roberta and has no architectures).
    """
    model = hf_model(hf_class, config, seed)
    model.save_pretrained(out_dir, safe_serialization=(fmt == "safetensors"))
    if config_json is not None:
        with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config_json, f, indent=2)
    size = model.config.vocab_size
    if vocab == "wordpiece":
        write_wordpiece_vocab(os.path.join(out_dir, "vocab.txt"), size)
    elif vocab == "bpe":
        tokens = BPE_SPECIALS + [f"tok{i}" for i in range(size - len(BPE_SPECIALS))]
        with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump({t: i for i, t in enumerate(tokens)}, f)
        with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
    return model


def write_wordpiece_vocab(path: str, size: int):
    """A CLUE-shaped vocab.txt: specials, CJK characters, then ## word pieces; ``size`` lines."""
    tokens = list(WORDPIECE_SPECIALS)
    tokens += [chr(c) for c in range(0x4E00, 0x4E00 + max(0, (size - len(tokens)) * 3 // 4))]
    i = 0
    while len(tokens) < size:
        tokens.append(f"##p{i}")
        i += 1
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens[:size]) + "\n")
