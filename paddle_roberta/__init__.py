"""Convert Hugging Face PyTorch BERT/RoBERTa/XLM-RoBERTa checkpoints into PaddleNLP model directories, and back out.

The layout follows the three pipelines (docs/architecture.md): ``convert`` (Hugging Face -> PaddleNLP),
``export_hf`` (PaddleNLP -> Hugging Face) and ``export_inference`` (PaddleNLP -> Paddle Inference), each built from
the stages ``families`` (tables, plan, configs), ``files`` (readers, writers, the output directory), ``tokenizer``
and ``parity`` (compare, report, verify, the gate). No module of the package imports this file.

The names below are imported on first use (PEP 562): ``import paddle_roberta`` and ``python -m paddle_roberta``
import nothing else, so the command line checks its arguments and installs its signal handlers first.
"""

import sys
import types

from ._version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "convert": "convert", "export": "export_hf", "export_inference": "export_inference",
    "from_pretrained": "api", "tokenizer": "api", "SentenceEncoder": "api",
    "ConversionError": "errors", "Result": "result", "pipeline": "api",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'paddle_roberta' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


class _Package(types.ModuleType):
    """Importing the submodule ``convert`` (or ``export_inference``, the subpackage ``tokenizer``) sets the package's
    attribute of that name to the module; the public name is the function, as the eager imports made it before."""

    def __setattr__(self, name, value):
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
