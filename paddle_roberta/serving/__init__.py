"""Serving a model exported with ``paddle-roberta export --to inference``: ``Predictor`` (predictor.py), the
length buckets it pads batches to (buckets.py), and the handlers that serve it with PaddleNLP's
``SimpleServer`` (simple_server.py, imported on its own: it needs fastapi)."""

from .predictor import INFERENCE_JSON, Predictor

__all__ = ["INFERENCE_JSON", "Predictor"]
