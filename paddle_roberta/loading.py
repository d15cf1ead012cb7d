"""Load a converted directory into PaddleNLP without random initialisation.

PaddleNLP's plain ``from_pretrained`` builds the model with random weights, then overwrites every one
from the file: for a 1.3 GB model most of its 16 s go to drawing random numbers. Its
``low_cpu_mem_usage=True`` creates the parameters lazily (``paddle.LazyGuard``) and fills them from
the file, but it also skips the model's ``_init_weights``, which for BERT and RoBERTa is where the
LayerNorm epsilons are set from ``layer_norm_eps`` (they are built with Paddle's default 1e-5): a BERT
model (1e-12) then computes other outputs. ``load`` takes PaddleNLP's fast path, sets those epsilons
as ``_init_weights`` would, and checks that every parameter was filled. A head the directory does not hold (the
start of a fine-tune: ``cls`` another head, or ``num_classes`` with ``ignore_mismatched_sizes=True``) is created and
initialised as PaddleNLP's ``_init_weights`` does, with a warning naming its parameters; a base-model parameter the
file lacks is an error, never initialised.
"""

from __future__ import annotations

import json
import os
import warnings

from .errors import ConversionError
from .families.tables import T, find_class


def dygraph_here():
    """Paddle's dygraph mode for the calling thread. paddle 3.3.1 keeps its tracer in a thread-local whose default is
    the module global, which is None once the threads that used paddle before have ended: a thread started after that
    (a thread pool's second batch) segfaults on its first tensor (AutoInitTensorByPyArray). ``paddle.disable_static``
    sets it again. Worker threads only: the main thread's mode is its program's own."""
    import threading

    import paddle

    if threading.current_thread() is not threading.main_thread() and \
            paddle.base.framework.global_var._dygraph_tracer_ is None:
        paddle.disable_static()


def load(out: str, cls=None, dtype: str | None = None, weights: str | None = None, **model_kwargs):
    """The model of the converted (or PaddleNLP-saved) directory ``out``: ``cls`` a PaddleNLP class or
    its name, default the class its config.json names ("AutoModel" for the bare model). ``dtype`` casts
    on load; by default the model keeps the dtype config.json records, except that on CPU a float16 or
    bfloat16 directory loads as float32, with a warning: Paddle has no CPU kernels for them, and the first
    forward would fail deep inside Paddle. An explicit half ``dtype`` on CPU is kept, with a warning.
    ``weights``: which weights file to read where ``out`` holds two formats (a fine-tune saved in place); two
    that disagree are refused without it (``weight_files.choose``), since PaddleNLP itself would read the
    older safetensors. ``model_kwargs``: settings of the model's config (``num_classes``/``num_labels``,
    dropout, ...) and ``ignore_mismatched_sizes``, as PaddleNLP's ``from_pretrained`` takes them; any other
    keyword is an error."""
    from .files.weight_files import PADDLE_FORMATS, choose

    found = choose(out, PADDLE_FORMATS, weights)
    use_safetensors = None if found is None else found[1].startswith("safetensors")
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if cls is None:
        cls = config["architectures"][0]
    _check_head_wanted(out, cls if isinstance(cls, str) else cls.__name__, model_kwargs)  # before paddle's import
    import paddle
    import paddlenlp.transformers as pt

    dygraph_here()
    if isinstance(cls, str):
        if not hasattr(pt, cls):
            raise ConversionError(f"{cls!r} is not a PaddleNLP class (loading {out})")
        cls = getattr(pt, cls)
    _check_keywords(out, cls, config, model_kwargs)
    dtype = _load_dtype(out, config.get("dtype") or "float32", dtype, on_cpu=paddle.get_device() == "cpu")
    model = cls.from_pretrained(out, low_cpu_mem_usage=True, dtype=dtype, use_safetensors=use_safetensors,
                                **model_kwargs)
    eps = model.config.layer_norm_eps
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.LayerNorm):
            layer._epsilon = eps  # what _init_weights sets (XLM-R builds its LayerNorms with it already)
    _check_head_size(out, model)
    missing = [name for name, param in model.named_parameters() if not param._is_initialized()]
    # a head the directory does not hold: another class than its own, or a classifier resized on request
    new_head = type(model).__name__ != config["architectures"][0] or model_kwargs.get("ignore_mismatched_sizes")
    bare = getattr(model, model.base_model_prefix, model) is model
    in_base = [n for n in missing if bare or n.startswith(model.base_model_prefix + ".")]
    if missing and (not new_head or in_base):
        name = (in_base or missing)[0]  # a lazy parameter the file did not fill
        raise ConversionError(f"{out}: parameter {name} of {type(model).__name__} is not in the weights file")
    if missing:
        _initialise(model, missing)
        warnings.warn(f"{out}: {type(model).__name__} starts a new head, initialised as PaddleNLP initialises it "
                      f"(normal, std {model.config.initializer_range}; biases 0): {', '.join(missing)}", stacklevel=3)
    model.eval()
    return model


# What PaddleNLP's from_pretrained takes besides config settings.
LOADING_KEYWORDS = ("ignore_mismatched_sizes",)


def _check_keywords(out, cls, config, model_kwargs):
    """Every keyword must be a setting of the model's config, or a loading keyword PaddleNLP takes."""
    config_class = getattr(cls, "config_class", None)
    if config_class is None:  # an Auto* class: the directory's own class says which config
        import paddlenlp.transformers as pt

        config_class = getattr(pt, config["architectures"][0]).config_class
    defaults = config_class()
    known = set(defaults.to_dict()) | set(getattr(config_class, "attribute_map", {}))
    for key in model_kwargs:
        # a setting is a key of the config's dict, an alias of one, or a property such as num_labels
        if (key not in known and key not in LOADING_KEYWORDS
                and not isinstance(getattr(type(defaults), key, None), property)):
            raise ConversionError(f"from_pretrained: unknown keyword {key!r} (not a conversion option, not a "
                                  f"setting of "
                                  f"{config_class.__name__}; loading {out})")


LABEL_KEYWORDS = ("num_classes", "num_labels", "id2label", "label2id")


def _check_head_wanted(out, cls_name, model_kwargs):
    """A label count given for a class without labels (the bare model) would be silently unused: the user wants a
    classifier, so say which class to pass."""
    given = [k for k in LABEL_KEYWORDS if k in model_kwargs]
    found = find_class(cls_name)
    if given and found is not None and found[1] in ("Model", "ForMaskedLM", "ForCausalLM", "ForPreTraining"):
        fam = found[0]
        raise ConversionError(f"{out}: holds a {cls_name}, which has no labels, and {given[0]} was given: pass "
                              f"cls=\"{fam.paddle_class('ForSequenceClassification')}\" (or "
                              f"\"{fam.paddle_class('ForTokenClassification')}\") for a new classifier head with "
                              f"{given[0]}")


def _check_head_size(out, model):
    """A classifier read from the file must have config.num_labels outputs: PaddleNLP's fast path loads a 2-class
    classifier into a model asked for 3 (``num_classes=3``) without a word, where its plain path refuses."""
    found = find_class(type(model).__name__)
    if found is None:
        return
    fam, head = found
    state = model.state_dict()
    for row in fam.heads[head].rows:
        param = state.get(row.paddle.format(base=fam.prefix(head)))
        if "L" not in row.shape or param is None or not param._is_initialized():
            continue
        held = param.shape[-1] if row.layout == T else param.shape[0]
        if held != model.config.num_labels:
            raise ConversionError(f"{out}: its classifier has {held} classes, the keywords ask for "
                                  f"{model.config.num_labels}: pass ignore_mismatched_sizes=True to start a new, "
                                  "untrained classifier")


def _initialise(model, names):
    """The parameters ``names`` (lazy, not filled from the file) created and set as PaddleNLP's ``_init_weights``
    sets them: each owning layer's weight from normal(0, initializer_range), biases at their initialiser's 0."""
    wanted = set(names)
    for _, layer in model.named_sublayers(include_self=True):
        own = [(n, p) for n, p in layer.named_parameters(include_sublayers=False) if not p._is_initialized()]
        for _, param in own:
            param.initialize()
        if own:
            model._init_weights(layer)
    left = [n for n, p in model.named_parameters() if n in wanted and not p._is_initialized()]
    if left:
        raise ConversionError(f"parameter {left[0]} of {type(model).__name__} could not be initialised")


HALF = ("float16", "bfloat16")


def _load_dtype(out: str, stored: str, asked: str | None, on_cpu: bool) -> str:
    if asked is not None and asked not in ("float32",) + HALF:
        raise ConversionError(f"dtype {asked!r} is not one of float32, float16, bfloat16 (loading {out})")
    if asked is None and on_cpu and stored in HALF:
        warnings.warn(f"{out}: {stored} weights loaded as float32 (Paddle has no CPU {stored} kernels); "
                      f"pass dtype=\"{stored}\" to keep them", stacklevel=4)
        return "float32"
    if asked in HALF and on_cpu:
        warnings.warn(f"{out}: loaded as {asked} on CPU, where Paddle has no {asked} kernels: a forward will fail; "
                      "load with dtype=\"float32\" to run it here", stacklevel=4)
    return asked or stored
