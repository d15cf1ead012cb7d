"""The SimpleServer ``app.py`` that serves an export, and the README section around it (templates/): the post handler
and route for the export's head, and a request that route takes."""

from __future__ import annotations

import json
import os

from ..files.templates import render

# The SimpleServer post handler for each head (simple_server.py); other heads get every output by name.
POST_HANDLERS = {
    # task heads answer as transformers' pipeline does (PaddleNLP's MultiClassificationPostHandler: label ids only)
    "ForSequenceClassification": ("paddle_roberta.serving.simple_server", "TaskPostHandler"),
    "ForTokenClassification": ("paddle_roberta.serving.simple_server", "TaskPostHandler"),
    "ForQuestionAnswering": ("paddle_roberta.serving.simple_server", "TaskPostHandler"),
    "ForMaskedLM": ("paddle_roberta.serving.simple_server", "TaskPostHandler"),
    "Model": ("paddle_roberta.serving.simple_server", "EmbeddingPostHandler"),
}
DEFAULT_POST_HANDLER = ("paddle_roberta.serving.simple_server", "OutputsPostHandler")
SENTENCE_POST_HANDLER = ("paddle_roberta.serving.simple_server", "SentenceEmbeddingPostHandler")
HERE = os.path.dirname(__file__)


def serving_section(spec: dict, name: str) -> str:
    """The README section: ``app.py`` serving the export (the folder ``name``) for its head, and how to call it."""
    module, post = POST_HANDLERS.get(spec["head"], DEFAULT_POST_HANDLER)
    route = spec["head"].lower()
    if spec.get("sentence"):
        (module, post), route = SENTENCE_POST_HANDLER, "sentence_embedding"
    app = render(HERE, "app.py.jinja", module=module, post=post, name=name, route=route)
    return render(HERE, "serving.md.jinja", name=name, app=app, route=route, request=_request(spec),
                  sentence=bool(spec.get("sentence")))


def _request(spec: dict) -> str:
    if spec.get("sentence"):
        prompts = [n for n, t in spec["sentence"]["prompts"].items() if t]
        parameters = {"batch_size": 8, "normalize": False, "max_seq_len": spec["sentence"]["max_seq_length"],
                      **({"prompt_name": prompts[0]} if prompts else {})}
        return '{"data": {"text": ["first text", "second text"]}, "parameters": ' + json.dumps(parameters) + "}"
    if spec["head"] == "ForQuestionAnswering":
        return '{"data": {"text": ["Which city?"], "text_pair": ["The capital is Beijing."]}}'
    if spec["rank"] == 3:
        return '{"data": {"text": [["first choice", "second choice"]]}}'
    return '{"data": {"text": ["first text", "second text"]}, "parameters": {"max_seq_len": 128, "batch_size": 8}}'
