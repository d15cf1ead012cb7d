"""Convert Hugging Face PyTorch BERT/RoBERTa checkpoints into PaddleNLP model directories."""

from .convert import convert
from .errors import ConversionError

__version__ = "0.1.0"
__all__ = ["convert", "ConversionError", "__version__"]
