"""Convert Hugging Face PyTorch BERT/RoBERTa/XLM-RoBERTa checkpoints into PaddleNLP model directories, and back out.

The layout follows the three pipelines (see README, "How it works"): ``convert`` (Hugging Face -> PaddleNLP),
``export_hf`` (PaddleNLP -> Hugging Face) and ``export_inference`` (PaddleNLP -> Paddle Inference), each built from
the stages ``families`` (tables, plan, configs), ``files`` (readers, writers, the output directory), ``tokenizer``
and ``parity`` (compare, verify, the gate). No module of the package imports this file.
"""

from ._version import __version__
from .api import SentenceEncoder, from_pretrained, tokenizer
from .convert import convert
from .errors import ConversionError
from .export_hf import export
from .export_inference import export_inference
from .result import Result

__all__ = ["convert", "export", "export_inference", "from_pretrained", "tokenizer", "ConversionError", "Result",
           "SentenceEncoder", "__version__"]
