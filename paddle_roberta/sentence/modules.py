"""A sentence-transformers directory's pipeline: read from the source, kept beside the converted body, written back.

sentence-transformers (``SentenceTransformer.save``) writes ``modules.json``, a list of modules run in order: the
``Transformer`` (the body, at the top folder, with ``sentence_bert_config.json``: ``max_seq_length``,
``do_lower_case``), then ``Pooling`` (``1_Pooling/config.json``: which of its modes are on, ``include_prompt``),
optionally ``Dense`` projections (``2_Dense/config.json``: features, bias, activation; ``model.safetensors`` or
``pytorch_model.bin`` holding ``linear.weight`` [out, in] and ``linear.bias``) and ``Normalize``;
``config_sentence_transformers.json`` holds the prompts and the similarity function. Modules this tool cannot run
in Paddle are refused by name, never dropped.

The converted directory keeps the pipeline in one documented file, ``sentence_encoder.json``
(docs/sentence-transformers.md): each module with what Paddle needs to run it, the Dense weights in the output's format
and Paddle's
layout (``DENSE`` below, read both ways), and the source's sentence-transformers configs as they were, so that
export back to Hugging Face writes them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ConversionError
from ..families.plan import Entry
from ..families.tables import KEEP, Row, T
from ..files.readers import Checkpoint
from ..files.source import read_json_object
from ..files.weight_files import HF_FORMATS, PADDLE_FORMATS, choose

MODULES_JSON = "modules.json"
PIPELINE_JSON = "sentence_encoder.json"
PIPELINE_FORMAT = "paddle-roberta sentence encoder 1"
ST_CONFIG = "config_sentence_transformers.json"
TRANSFORMER_CONFIG = "sentence_bert_config.json"

ST = "sentence_transformers.models."
TRANSFORMER, POOLING, DENSE_TYPE, NORMALIZE, DROPOUT = (ST + n for n in ("Transformer", "Pooling", "Dense", "Normalize",
                                                                          "Dropout"))

# Pooling's config keys, in the order sentence-transformers concatenates the vectors of the modes that are on
# (models/Pooling.py: cls, max, mean, mean_sqrt_len, weightedmean, lasttoken).
POOLING_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
                 "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                 "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}

# Dense's activation (the class name sentence-transformers saves) -> paddle.nn.functional's function of the same
# definition (GELU: both exact, erf); None is the identity.
ACTIVATIONS = {"torch.nn.modules.linear.Identity": None, "torch.nn.modules.activation.Tanh": "tanh",
               "torch.nn.modules.activation.ReLU": "relu", "torch.nn.modules.activation.GELU": "gelu",
               "torch.nn.modules.activation.Sigmoid": "sigmoid"}

# Dense's tensors, as the body's tables: sentence-transformers' name, Paddle's, layout, shape (O out, I in features).
DENSE = (Row("linear.weight", "linear.weight", T, ("O", "I")), Row("linear.bias", "linear.bias", KEEP, ("O",)))


@dataclass
class Pipeline:
    modules: list  # one dict per module after the Transformer: {"type": "Pooling" | "Dense" | "Normalize", ...}
    max_seq_length: int
    do_lower_case: bool = False
    prompts: dict = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str | None = None
    st_files: dict = field(default_factory=dict)  # the source's sentence-transformers configs: relative path -> text
    source_max_seq_length: int | None = None  # sentence-transformers' own, where it is past the model's positions

    @property
    def pooling(self) -> dict:
        return self.modules[0]

    @property
    def dimension(self) -> int:
        dense = [m for m in self.modules if m["type"] == "Dense"]
        return dense[-1]["out_features"] if dense else self.pooling["dimension"]

    def summary(self) -> str:
        """One line: each module, in order."""
        past = (f"; sentence-transformers' {self.source_max_seq_length} is past the model's positions and fails on "
                "longer texts" if self.source_max_seq_length else "")
        parts = [f"Transformer (max_seq_length "
                 f"{self.max_seq_length}{past}{', lower-cased' if self.do_lower_case else ''})"]
        for m in self.modules:
            if m["type"] == "Pooling":
                parts.append(f"Pooling ({' + '.join(m['modes'])}{'' if m['include_prompt'] else ', prompt excluded'})")
            elif m["type"] == "Dense":
                parts.append(f"Dense {m['in_features']}->{m['out_features']} {m['activation'] or 'identity'}"
                             f"{'' if m['bias'] else ' no bias'}")
            elif m["type"] == "Dropout":
                parts.append("Dropout (the identity at inference)")
            else:
                parts.append(m["type"])
        named = [name + (" (default)" if name == self.default_prompt_name else "") for name,
                 text in self.prompts.items()
                 if text]
        prompts = f"; prompts: {', '.join(named)}" if named else ""
        similarity = (f"; similarity {self.similarity_fn_name}" if self.similarity_fn_name not in (None, "cosine")
                      else "")
        return "sentence-transformers: " + " -> ".join(parts) + prompts + similarity

    def as_json(self) -> dict:
        local = ("source_weights", "weights")  # paths of this machine's files: found again when read
        modules = [{k: v for k, v in m.items() if k not in local} for m in self.modules]
        return {"format": PIPELINE_FORMAT, "modules": modules, "max_seq_length": self.max_seq_length,
                "do_lower_case": self.do_lower_case, "prompts": self.prompts,
                "default_prompt_name": self.default_prompt_name, "similarity_fn_name": self.similarity_fn_name,
                "source_max_seq_length": self.source_max_seq_length, "sentence_transformers": self.st_files}


def pipeline_from_json(data: dict) -> Pipeline:
    """``Pipeline.as_json``'s value back (an inference export keeps it in inference.json)."""
    return Pipeline(data["modules"], data["max_seq_length"], data.get("do_lower_case", False),
                    data.get("prompts") or {},
                    data.get("default_prompt_name"), data.get("similarity_fn_name"),
                    data.get("sentence_transformers") or {},
                    data.get("source_max_seq_length"))


def is_sentence_transformers(path) -> bool:
    return os.path.isfile(os.path.join(os.fspath(path), MODULES_JSON))


def check_layout(path: str) -> None:
    """A sentence-transformers directory whose Transformer is not at its top folder (2019-era models: ``0_BERT/``,
    ``0_Transformer/``) is refused naming ``modules.json`` and that folder, before the body is looked for."""
    where = os.path.join(path, MODULES_JSON)
    try:
        listed = _read_json(where, {}, MODULES_JSON)
        first = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], dict) else {}
    except ConversionError:
        return  # read_source reports it
    if first.get("path") not in (None, "", ".") and not os.path.isfile(os.path.join(path, "config.json")):
        raise ConversionError(f"{where}: the Transformer module is in {first.get('path')!r}, not the top "
                              f"folder (an older "
                              "sentence-transformers layout); "
                              "this tool converts models whose body is at the top folder")


def missing_modules(path: str) -> list:
    """What a sentence-transformers directory lacks of the modules its modules.json lists (a folder not copied, a
    Pooling or Dense config, Dense weights), each as "module 1_Pooling (Pooling) has no 1_Pooling/config.json"; empty
    when every listed file is there (or modules.json cannot be read: ``read_source`` reports that)."""
    try:
        listed = _read_json(os.path.join(path, MODULES_JSON), {}, MODULES_JSON)
    except ConversionError:
        return []
    missing = []
    for m in listed[1:] if isinstance(listed, list) else []:
        kind, rel = (m.get("type"), m.get("path")) if isinstance(m, dict) else (None, None)
        if not isinstance(rel, str) or kind not in (POOLING, DENSE_TYPE) or os.path.isabs(rel) or \
                ".." in rel.replace("\\", "/").split("/"):
            continue  # read_source refuses a path outside the model directory by name
        name = f"module {rel} ({kind.rsplit('.', 1)[-1]})"
        if not os.path.isdir(os.path.join(path, rel)):
            missing.append(f"{name} is missing (no folder {rel}/)")
        elif not os.path.isfile(os.path.join(path, rel, "config.json")):
            missing.append(f"{name} has no {rel}/config.json")
        elif kind == DENSE_TYPE and not any(os.path.isfile(os.path.join(path, rel, w))
                                            for w in ("model.safetensors", "pytorch_model.bin")):
            missing.append(f"{name} has no weights ({rel}/model.safetensors or pytorch_model.bin)")
    return missing


def read_source(path: str, config: dict, max_positions: int) -> Pipeline:
    """The pipeline of the sentence-transformers directory ``path`` (its body's ``config``; ``max_positions`` the
    tokens its position table holds), every module checked; ConversionError naming the file for anything this
    tool cannot run."""
    where = os.path.join(path, MODULES_JSON)
    st_files = {}
    listed = _read_json(where, st_files, MODULES_JSON)
    if not isinstance(listed, list) or not listed or not all(isinstance(m, dict) for m in listed):
        raise ConversionError(f"{where}: expected a list of modules ({{\"idx\", \"name\", \"path\", \"type\"}})")
    first = listed[0]
    if first.get("type") != TRANSFORMER or first.get("path") not in ("", "."):
        raise ConversionError(f"{where}: the first module must be {TRANSFORMER} at the top folder, found "
                              f"{first.get('type')!r} at {first.get('path')!r}")
    transformer = _object(path, TRANSFORMER_CONFIG, st_files, missing_ok=True)
    st_config = _object(path, ST_CONFIG, st_files, missing_ok=True)
    modules = []
    for i, m in enumerate(listed[1:], 1):
        kind, rel = m.get("type"), m.get("path")
        name = f"{where}: module {i} ({kind}, {rel!r})"
        if not isinstance(rel, str) or os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
            raise ConversionError(f"{name}: its path must be a folder inside the model directory")
        if kind == POOLING:
            if modules:
                raise ConversionError(f"{name}: Pooling must come right after the Transformer")
            modules.append(_pooling(path, rel, config, st_files, name))
        elif not modules:
            raise ConversionError(f"{name}: the Transformer's token embeddings must be pooled first "
                                  f"(no Pooling module)")
        elif kind == DENSE_TYPE:
            modules.append(_dense(path, rel, modules, st_files, name))
        elif kind == NORMALIZE:
            modules.append({"type": "Normalize", "path": rel})
        elif kind == DROPOUT:  # the identity at inference; its config is kept for the way back
            _object(path, f"{rel}/config.json", st_files, missing_ok=True)
            modules.append({"type": "Dropout", "path": rel})
        else:
            raise ConversionError(f"{name}: this module is not supported (Pooling, Dense, Normalize and Dropout are); "
                                  "nothing written")
    if not modules:
        raise ConversionError(f"{where}: no Pooling module: the model gives token embeddings, not sentence embeddings")
    max_len = transformer.get("max_seq_length")
    if max_len is None:  # sentence-transformers' own inference (models/Transformer.py)
        tok = read_json_object(os.path.join(path, "tokenizer_config.json"), missing_ok=True)
        max_len = min(config["max_position_embeddings"], tok.get("model_max_length") or max_positions)
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 2:
        raise ConversionError(f"{os.path.join(path, TRANSFORMER_CONFIG)}: max_seq_length must be an integer of at "
                              f"least 2, not {max_len!r}")
    prompts = st_config.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise ConversionError(f"{os.path.join(path, ST_CONFIG)}: prompts must map names to strings")
    default = st_config.get("default_prompt_name")
    if default is not None and default not in prompts:
        raise ConversionError(f"{os.path.join(path, ST_CONFIG)}: default_prompt_name {default!r} is not one of the "
                              f"prompts ({', '.join(prompts) or 'none'})")
    # sentence-transformers' own value may be past the positions (a RoBERTa body's 514, or its inference from a
    # tokenizer with no maximum): it then fails on longer texts (IndexError); cut there, and say so
    return Pipeline(modules, min(max_len, max_positions), bool(transformer.get("do_lower_case", False)), prompts,
                    default,
                    st_config.get("similarity_fn_name"), st_files, max_len if max_len > max_positions else None)


def _read_json(path, st_files, rel):
    """The JSON value at ``path``; its text kept in ``st_files[rel]`` (export writes it back byte for byte)."""
    import json

    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        value = json.loads(text)
    except OSError as e:
        raise ConversionError(f"{path}: cannot be read ({e.strerror})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ConversionError(f"{path}: not valid JSON ({e})") from None
    st_files[rel] = text
    return value


def _object(path, rel, st_files, missing_ok=False) -> dict:
    where = os.path.join(path, rel)
    if missing_ok and not os.path.isfile(where):
        return {}
    value = _read_json(where, st_files, rel)
    if not isinstance(value, dict):
        raise ConversionError(f"{where}: expected a JSON object, found {type(value).__name__}")
    return value


def _pooling(path, rel, config, st_files, name) -> dict:
    where = os.path.join(path, rel, "config.json")
    cfg = _object(path, f"{rel}/config.json", st_files)
    known = set(POOLING_MODES) | {"word_embedding_dimension", "include_prompt"}
    unknown = [k for k, v in cfg.items() if k not in known and v not in (False, None)]
    if unknown:
        raise ConversionError(f"{where}: {unknown[0]} is not a pooling setting this tool runs "
                              f"({', '.join(POOLING_MODES)})")
    modes = [mode for key, mode in POOLING_MODES.items() if cfg.get(key)]
    if not modes:
        raise ConversionError(f"{where}: no pooling mode is on")
    dim = cfg.get("word_embedding_dimension")
    if dim != config["hidden_size"]:
        raise ConversionError(f"{where}: word_embedding_dimension {dim!r} is not the body's hidden_size "
                              f"{config['hidden_size']}")
    return {"type": "Pooling", "path": rel, "modes": modes, "include_prompt": bool(cfg.get("include_prompt", True)),
            "dimension": dim * len(modes)}


def _dense(path, rel, modules, st_files, name) -> dict:
    where = os.path.join(path, rel, "config.json")
    cfg = _object(path, f"{rel}/config.json", st_files)
    act = cfg.get("activation_function", "torch.nn.modules.activation.Tanh")
    if act not in ACTIVATIONS:
        raise ConversionError(f"{where}: activation_function {act!r} is not one this tool runs "
                              f"({', '.join(a.rsplit('.', 1)[-1] for a in ACTIVATIONS)})")
    width = [m for m in modules if m["type"] in ("Pooling", "Dense")][-1]
    width = width["out_features"] if width["type"] == "Dense" else width["dimension"]
    n_in, n_out = cfg.get("in_features"), cfg.get("out_features")
    if n_in != width or not isinstance(n_out, int) or n_out < 1:
        raise ConversionError(f"{where}: in_features {n_in!r} / out_features {n_out!r} do not follow the {width} "
                              "features before it")
    found = choose(os.path.join(path, rel), HF_FORMATS)
    if found is None:
        raise ConversionError(f"{os.path.join(path, rel)}: no weights (model.safetensors or pytorch_model.bin) for "
                              "this Dense module")
    module = {"type": "Dense", "path": rel, "in_features": n_in, "out_features": n_out,
              "bias": bool(cfg.get("bias", True)),
              "activation": ACTIVATIONS[act], "source_weights": found[0]}
    with Checkpoint([found[0]]) as ckpt:  # names and shapes now, before anything is written
        dense_entries(module, ckpt, "paddle", found[0])
    return module


def dense_entries(module: dict, ckpt: Checkpoint, to: str, where: str) -> list:
    """``plan.Entry``s for one Dense module's tensors (``to`` "paddle": convert; "hf": export) read from the file
    ``where``, shapes checked, no tensor left over."""
    dims = {"O": module["out_features"], "I": module["in_features"]}
    rows = [r for r in DENSE if module["bias"] or r.hf != "linear.bias"]
    names = set(ckpt.names())
    entries = []
    for row in rows:
        src, dst = (row.hf, row.paddle) if to == "paddle" else (row.paddle, row.hf)
        want = tuple(dims[s] for s in row.shape)  # transformers' layout
        have_want = want if to == "paddle" or row.layout == KEEP else want[::-1]
        if src not in names:
            raise ConversionError(f"{where}: tensor {src} is missing (the Dense module needs it)")
        if tuple(ckpt.shape(src)) != have_want:
            raise ConversionError(f"{ckpt.file(src)}: tensor {src} has shape {list(ckpt.shape(src))}, expected "
                                  f"{list(have_want)} (in_features {dims['I']}, out_features {dims['O']})")
        out_shape = want[::-1] if to == "paddle" and row.layout == T else want
        entries.append(Entry(dst, (src,), row.layout == T, out_shape))
    extra = sorted(names - {e.srcs[0] for e in entries})
    if extra:
        raise ConversionError(f"{ckpt.file(extra[0])}: tensor {extra[0]} is not one of the Dense module's "
                              f"({', '.join(e.srcs[0] for e in entries)})")
    return entries


def read_pipeline(folder: str) -> Pipeline | None:
    """The pipeline ``convert`` wrote into ``folder`` (None where there is none), each Dense module's weights file
    resolved under "weights"."""
    where = os.path.join(folder, PIPELINE_JSON)
    if not os.path.isfile(where):
        return None
    data = read_json_object(where)
    if data.get("format") != PIPELINE_FORMAT or not isinstance(data.get("modules"), list) or not data["modules"]:
        raise ConversionError(f"{where}: not a paddle-roberta sentence encoder file ({PIPELINE_FORMAT})")
    for m in data["modules"]:
        if m.get("type") == "Dense":
            found = choose(os.path.join(folder, m["path"]), PADDLE_FORMATS)
            if found is None:
                raise ConversionError(f"{os.path.join(folder, m['path'])}: the Dense module's weights are missing")
            m["weights"] = found[0]
    return pipeline_from_json(data)
