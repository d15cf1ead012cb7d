"""Hub ids as sources: the local Hugging Face cache first, a download with huggingface_hub when online.

The cache is huggingface_hub's own (HF_HOME / HF_HUB_CACHE); HF_HUB_OFFLINE=1 forbids the network.
Only what a conversion reads is fetched: config, weights of one format, tokenizer files, a sentence-transformers
model's modules.
"""

from __future__ import annotations

import os
import re

from ..errors import ConversionError
from ..tokenizer.kind import TOKENIZER_FILES

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# sentence-transformers models: the module list, their configs and Dense weights (sentence/modules.py)
SENTENCE = ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "*_Pooling/*",
            "*_Dense/*"]
COMMON = ["config.json", *TOKENIZER_FILES, *SENTENCE]
FORMATS = (["model.safetensors", "model.safetensors.index.json", "model-*.safetensors"],
           ["pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*.bin"])


def looks_like_repo_id(src: str) -> bool:
    return bool(REPO_ID.match(src)) and not os.path.exists(src)


def resolve_repo_id(repo_id: str) -> str:
    """A local directory holding ``repo_id``'s files (a snapshot in the Hugging Face cache)."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    def snapshot(patterns, local_only):
        return snapshot_download(repo_id, allow_patterns=COMMON + patterns, local_files_only=local_only)

    try:
        for local_only in (True, False):
            if not local_only and constants.HF_HUB_OFFLINE:
                break
            for patterns in FORMATS:  # safetensors first: never unpickle when there is a choice
                try:
                    path = snapshot(patterns, local_only)
                except LocalEntryNotFoundError:
                    continue
                if any(os.path.exists(os.path.join(path, p)) for p in patterns[:2]):
                    return path
    except Exception as e:  # network, auth, missing repo: huggingface_hub's many error kinds
        raise ConversionError(f"{repo_id}: cannot be fetched from the hub ({str(e).splitlines()[0][:200]})") from None
    where = constants.HF_HUB_CACHE
    tried = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the hub could not be reached or has no such model"
    raise ConversionError(f"{repo_id}: not a local directory, not in the Hugging Face cache at {where}, and {tried}: "
                          "check the path, or fetch the model where there is a network (`huggingface-cli download "
                          f"{repo_id}`) and point HF_HOME at that cache")
