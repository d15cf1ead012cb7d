"""Convert Hugging Face PyTorch BERT/RoBERTa/XLM-RoBERTa checkpoints into PaddleNLP model directories, and back out."""

__version__ = "0.1.0"

from .api import from_pretrained, tokenizer  # noqa: E402
from .convert import convert  # noqa: E402
from .errors import ConversionError  # noqa: E402
from .export_hf import export  # noqa: E402
from .export_inference import export_inference  # noqa: E402

__all__ = ["convert", "export", "export_inference", "from_pretrained", "tokenizer", "ConversionError", "__version__"]
