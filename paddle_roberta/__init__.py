"""Convert Hugging Face PyTorch BERT/RoBERTa checkpoints into PaddleNLP model directories."""

__version__ = "0.1.0"

from .api import from_pretrained, tokenizer  # noqa: E402
from .convert import convert  # noqa: E402
from .errors import ConversionError  # noqa: E402
from .export_hf import export  # noqa: E402

__all__ = ["convert", "export", "from_pretrained", "tokenizer", "ConversionError", "__version__"]
