"""Handlers that serve an export with PaddleNLP's ``SimpleServer`` (``paddlenlp server app:app``).

    from paddlenlp import SimpleServer
    from paddle_roberta.serving.simple_server import ModelHandler, TaskPostHandler

    app = SimpleServer()
    app.register("models/cls", model_path="served", tokenizer_name="served",
                 model_handler=ModelHandler, post_handler=TaskPostHandler)

The export keeps its static graph where SimpleServer's predictor looks (``auto_static/inference.json``).
PaddleNLP's stock ``CustomModelHandler`` cannot drive it: it feeds ``input_ids`` and ``token_type_ids`` to
the graph's first two inputs and no attention mask (PaddleNLP's own export convention, the mask built
from ``pad_token_id`` inside the graph), so the mask would receive token types; it also reads its
parameters the wrong way round (``if "max_seq_len" not in parameters: max_seq_len =
parameters["max_seq_len"]``, a KeyError without them, ignored with them) and does not truncate. And
SimpleServer's predictor cannot start on any paddle 3 (PIR) model: ``_is_int8_model`` loads the whole
model with ``paddle.jit.load`` to read ``op.type``, which PIR operations do not have (AttributeError), and
``_prepare_paddle_mode`` turns on ``enable_memory_optim``, which paddle 3.3.1 refuses for PIR programs
("Not find predictor_id 0 and pass_name memory_optimize_pass"). Importing this module makes
``Predictor._create_predictor`` build this tool's exports (and only those: every other model goes to
PaddleNLP's code) as ``serving.Predictor`` does: oneDNN, PaddleNLP's thread count (half the cores), the
handles its handlers read.
``ModelHandler`` feeds the inputs by name through ``Predictor`` (length buckets, one worker thread per
model: oneDNN keeps weight copies per calling thread, and uvicorn calls from a pool of them), truncates
to ``max_seq_len`` (default: the model's positions), and answers a bad request with a 422 and a message.

Request: ``{"data": {"text": str | [str], "text_pair": ...}, "parameters": {"max_seq_len": int,
"batch_size": int}}`` (a multiple-choice model takes ``text`` as a list of lists of choices; a sentence-transformers
model also ``"prompt_name"``, ``"prompt"`` and ``"normalize"``, refuses any other key, and answers
``sentence_embedding``, one vector per text).
A task head (sequence and token classification, question answering, fill-mask) is answered by the task pipeline
(``tasks.pipeline``) over the same ``Predictor``: ``parameters`` are its options, and ``TaskPostHandler`` returns
what ``transformers.pipeline`` returns for the same input. For other heads, the model handler's answer holds every
output of the graph by name (per-token outputs cut to each text's real tokens), ``logits`` (the head's first output,
for PaddleNLP's post handlers), and per text its ``tokens``, which are ``special`` and their ``segment`` (1 for the
``text_pair``'s).
"""

from __future__ import annotations

import json
import os
import sys
import threading

import numpy as np
from fastapi import HTTPException
from paddlenlp.server import predictor as server_predictor  # noqa: I001 -- patched below
from paddlenlp.server.handlers import BaseModelHandler, BasePostHandler

from ..tasks.pipeline import OPTIONS, TASK_OF_HEAD, Pipeline
from ..tasks.runners import Exported
from .predictor import INFERENCE_JSON, Predictor

DEFAULT_BATCH = 8
_PREDICTORS, _PREDICTORS_LOCK = {}, threading.Lock()
_PIPELINES = {}


def _exported_by_us(model_dir) -> bool:
    try:
        with open(os.path.join(model_dir, INFERENCE_JSON), encoding="utf-8") as f:
            return isinstance(json.load(f).get("inputs"), list)
    except (OSError, ValueError, AttributeError):
        return False


def _engine(model_dir) -> str:
    with open(os.path.join(model_dir, INFERENCE_JSON), encoding="utf-8") as f:
        return json.load(f).get("engine", "paddle")


def _create_predictor(self, _stock=server_predictor.Predictor._create_predictor):
    if not _exported_by_us(self._model_path):
        return _stock(self)
    if _engine(self._model_path) != "paddle":
        # at the server's start-up, inside PaddleNLP's command line, whose handler prints every exception as a
        # 160-line traceback: one line and the exit instead
        sys.stderr.write(f"paddle-roberta: error: {self._model_path}: an ONNX export; SimpleServer serves Paddle "
                         "Inference models: export the PaddleNLP directory with --to inference to serve it here\n")
        raise SystemExit(1)
    ours = Predictor(self._model_path, threads=self._num_threads)  # its tokenizer loads from the same folder
    self._predictor_type, self._predictor = "paddle_inference", ours.paddle_predictor
    self._input_handles = [self._predictor.get_input_handle(n) for n in self._predictor.get_input_names()]
    self._output_handles = [self._predictor.get_output_handle(n) for n in self._predictor.get_output_names()]
    self._output_num = len(self._output_handles)
    with _PREDICTORS_LOCK:
        _PREDICTORS[id(self)] = ours


server_predictor.Predictor._create_predictor = _create_predictor


def _bad(message: str):
    return HTTPException(status_code=422, detail=message)


def predictor_for(server_predictor, tokenizer) -> Predictor:
    """The ``Predictor`` behind a SimpleServer predictor (made by ``_create_predictor``, or wrapped here)."""
    with _PREDICTORS_LOCK:
        key = id(server_predictor)
        if key not in _PREDICTORS:
            _PREDICTORS[key] = Predictor(server_predictor._model_path, predictor=server_predictor._predictor,
                                         tokenizer=tokenizer)
        return _PREDICTORS[key]


def pipeline_for(ours: Predictor):
    """The task pipeline (``tasks.pipeline``) over a served model whose head has one, made once; else None."""
    task = TASK_OF_HEAD.get(ours.spec["head"])
    if task is None or ours.pipeline is not None:
        return None
    with _PREDICTORS_LOCK:
        if id(ours) not in _PIPELINES:
            _PIPELINES[id(ours)] = Pipeline(task, Exported(ours.path, predictor=ours))
        return _PIPELINES[id(ours)]


def _task_answers(pipe, data, texts, pairs, parameters):
    """What ``pipe(<data.text as sent>, **parameters)`` answers in Python: the same JSON for the same task.
    ``max_seq_len`` and ``batch_size`` are the route's names for the pipeline's length and batch options."""
    route = ("max_seq_len", "batch_size")  # the route's own; the texts come as data.text (and data.text_pair)
    allowed = [o for o in OPTIONS[pipe.task] if o not in ("question", "context", "max_seq_len")] + list(route)
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise _bad(f"parameters.{unknown[0]} is not one of {', '.join(allowed)}")
    options = {k: v for k, v in parameters.items() if k not in route}
    options["batch_size"] = _positive_int(parameters, "batch_size", DEFAULT_BATCH)
    if "max_seq_len" in parameters:
        length = _positive_int(parameters, "max_seq_len", None)
        room = pipe.runner.tokenizer.num_special_tokens_to_add(pair=pairs is not None) + (2 if pairs else 1)
        if length < room and pipe.task != "question-answering":  # the tokenizer would cut the text away entirely
            raise _bad(f"parameters.max_seq_len must be at least {room} here ({room - (2 if pairs else 1)} special "
                       f"tokens and one token of each text), not {length}")
        options.update({"max_seq_len": length} if pipe.task == "question-answering" else
                       {"max_length": length, "truncation": True})
    elif pipe.task in ("text-classification", "fill-mask"):
        options["truncation"] = True  # the route has always cut texts at the model's positions
    one = isinstance(data["text"], str)
    if pipe.task == "question-answering":
        if pairs is None:
            raise _bad("data.text_pair is missing: a question-answering model takes the questions as data.text and "
                       "the contexts as data.text_pair")
        inputs = {"question": texts[0], "context": pairs[0]} if one else \
            [{"question": q, "context": c} for q, c in zip(texts, pairs)]
    elif pairs is not None:
        if pipe.task != "text-classification":
            raise _bad(f"data.text_pair: a {pipe.task} model takes single texts")
        inputs = [{"text": t, "text_pair": p} for t, p in zip(texts, pairs)]
        inputs = inputs[0] if one else inputs
    else:
        inputs = texts[0] if one else texts
    try:
        return pipe(inputs, **options)
    except ValueError as e:  # the pipeline names its options; the route's come as parameters.NAME
        message = str(e).replace("pass truncation=True to cut it", "send a parameters.max_seq_len")
        raise _bad(f"parameters.{message}" if message.split()[0] in parameters else message) from None


def _texts(data, field, choices, required=True):
    if not isinstance(data, dict):
        raise _bad(f'data must be an object such as {{"text": ["a text"]}}, not {type(data).__name__}')
    value = data.get(field)
    if value is None:
        if required:
            raise _bad(f'data.{field} is missing: send {{"data": {{"{field}": "a text" or ["texts", ...]}}}}')
        return None
    if isinstance(value, str) and not choices:
        return [value]
    if not isinstance(value, list):
        raise _bad(f"data.{field} must be a string or a list of strings, not {type(value).__name__}")
    for item in value:
        ok = ((isinstance(item, list) and item and all(isinstance(t, str) for t in item)) if choices
              else isinstance(item, str))
        if not ok:
            want = "a non-empty list of strings (the choices)" if choices else "a string"
            raise _bad(f"data.{field}: every item must be {want}, not {json.dumps(item)[:60]}")
    return value


def _positive_int(parameters, name, default, limit=None):
    value = parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"parameters.{name} must be a positive integer, not {json.dumps(value)[:60]}")
    return min(value, limit) if limit else value


def _token_info(tokenizer, texts, pairs, max_len, choices):
    """Per sequence (as the model sees it): its tokens, which of them the tokenizer added ([CLS], <s>, [SEP]...:
    not an [UNK], and not a literal "[SEP]" typed in a slow tokenizer's text) and its segment (1 for the
    ``text_pair``'s tokens: BERT's token types, else what follows the first added separator run)."""
    if choices:
        texts = [t for group in texts for t in group]
        pairs = None if pairs is None else [t for group in pairs for t in group]
    enc = tokenizer(texts, pairs, truncation=True, max_length=max_len, return_special_tokens_mask=True,
                    return_token_type_ids=True)
    for k, ids in enumerate(enc["input_ids"]):
        added = [bool(x) for x in enc["special_tokens_mask"][k]]
        types = enc.get("token_type_ids")
        if pairs is not None and types is not None and any(types[k]):
            segment = [int(t) for t in types[k]]
        else:
            first = next((j for j in range(1, len(ids)) if added[j]), len(ids))
            while first < len(ids) and added[first]:
                first += 1
            segment = [int(pairs is not None and j >= first) for j in range(len(ids))]
        yield tokenizer.convert_ids_to_tokens(ids), added, segment


class ModelHandler(BaseModelHandler):
    """Tokenize, batch, run by input name, and return the outputs at the real tokens (see the module's doc)."""

    @classmethod
    def process(cls, predictor, tokenizer, data, parameters):
        ours = predictor_for(predictor, tokenizer)
        choices = ours.spec["rank"] == 3
        parameters = parameters if isinstance(parameters, dict) else {}
        texts = _texts(data, "text", choices)
        pairs = _texts(data, "text_pair", choices, required=False)
        if not texts:
            raise _bad("data.text is an empty list: send at least one text")
        if pairs is not None and len(pairs) != len(texts):
            raise _bad(f"data.text has {len(texts)} texts and data.text_pair {len(pairs)}: they go in pairs")
        if ours.pipeline is not None:
            return _sentence_embeddings(ours, tokenizer, texts, pairs, parameters)
        pipe = pipeline_for(ours)
        if pipe is not None:
            return {"answers": _task_answers(pipe, data, texts, pairs, parameters)}
        max_len = _positive_int(parameters, "max_seq_len", ours.spec["max_length"], ours.spec["max_length"])
        batch = _positive_int(parameters, "batch_size", DEFAULT_BATCH)
        if ours.spec["head"] == "ForQuestionAnswering" and pairs is None:
            raise _bad("data.text_pair is missing: a question-answering model takes the questions as data.text and "
                       "the contexts as data.text_pair")
        room = tokenizer.num_special_tokens_to_add(pair=pairs is not None) + (2 if pairs is not None else 1)
        if max_len < room:  # PaddleNLP's tokenizer would log an error and not truncate at all
            raise _bad(f"parameters.max_seq_len must be at least {room} here "
                       f"({room - 1 if pairs is None else room - 2} "
                       f"special tokens and one token of each text), not {max_len}")
        per_token = set(ours.spec["per_token"])
        outputs = {name: [] for name in ours.output_names}
        tokens, special, segment = [], [], []
        for i in range(0, len(texts), batch):
            some, their_pairs = texts[i:i + batch], None if pairs is None else pairs[i:i + batch]
            feed = ours.tokenize(some, their_pairs, max_len)
            out = ours.run(feed)
            real = feed["attention_mask"].reshape(-1, feed["attention_mask"].shape[-1]).astype(bool)
            for info in _token_info(tokenizer, some, their_pairs, max_len, choices):
                tokens.append(info[0]), special.append(info[1]), segment.append(info[2])
            for name, value in out.items():
                if name in per_token:
                    outputs[name] += [v[keep].tolist() for v, keep in zip(value, real)]
                else:
                    outputs[name] += value.tolist()
        answer = {name: outputs[name] for name in ours.output_names}
        head_outputs = [n for n in ours.output_names if n not in ("last_hidden_state", "pooler_output")]
        if head_outputs:
            answer["logits"] = answer[head_outputs[0]]
        answer.update(tokens=tokens, special=special, segment=segment, head=ours.spec["head"])
        return answer


SENTENCE_PARAMETERS = ("prompt_name", "prompt", "normalize", "max_seq_len", "batch_size")


def _sentence_embeddings(ours, tokenizer, texts, pairs, parameters):
    """A sentence-transformers model's route: ``parameters`` may name a ``prompt_name`` of the model or give a
    ``prompt`` string ("" for none; it wins over ``prompt_name``, as in sentence-transformers), ``normalize``
    (true/false), ``max_seq_len`` (at most the model's ``max_seq_length``) and ``batch_size``; any other key is a
    422."""
    pipeline = ours.pipeline
    if pairs is not None:
        raise _bad("data.text_pair: a sentence-embedding model encodes single texts (send them all in data.text)")
    unknown = sorted(set(parameters) - set(SENTENCE_PARAMETERS))
    if unknown:  # a misspelt "normalise" would otherwise give vectors that are not normalised
        raise _bad(f"parameters.{unknown[0]} is not one of {', '.join(SENTENCE_PARAMETERS)}")
    prompt_name = parameters.get("prompt_name")
    if prompt_name is not None and (not isinstance(prompt_name, str) or prompt_name not in pipeline.prompts):
        raise _bad(f"parameters.prompt_name must be one of {sorted(pipeline.prompts)}, not "
                   f"{json.dumps(prompt_name)[:60]}")
    prompt = parameters.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _bad(f"parameters.prompt must be a string (\"\" for none), not {json.dumps(prompt)[:60]}")
    normalize = parameters.get("normalize", False)
    if not isinstance(normalize, bool):
        raise _bad(f"parameters.normalize must be true or false, not {json.dumps(normalize)[:60]}")
    max_len = _positive_int(parameters, "max_seq_len", pipeline.max_seq_length, pipeline.max_seq_length)
    room = tokenizer.num_special_tokens_to_add(pair=False) + 1
    if max_len < room:
        raise _bad(f"parameters.max_seq_len must be at least {room} here ({room - 1} special tokens and one token of "
                   f"the text), not {max_len}")
    batch = _positive_int(parameters, "batch_size", DEFAULT_BATCH)
    vectors = ours.encode(texts, batch_size=batch, normalize=normalize, prompt_name=prompt_name, prompt=prompt,
                          max_length=max_len, show_progress_bar=False)
    return {"sentence_embedding": vectors.tolist(), "head": "SentenceEmbedding", "dimension": pipeline.dimension}


class TaskPostHandler(BasePostHandler):
    """A task head's route (sequence and token classification, question answering, fill-mask): ``result`` is what
    ``transformers.pipeline(task)`` returns for the same input and ``parameters`` (its options by their names:
    ``top_k``, ``function_to_apply``, ``aggregation_strategy``, ``doc_stride``, ``max_answer_len``, ...; labels by
    ``id2label``, words and character offsets into the texts): ``paddle_roberta.pipeline``'s answer."""

    @classmethod
    def process(cls, data, parameters):
        return data["answers"]


class EmbeddingPostHandler(BasePostHandler):
    """A bare model: for each text, ``pooler_output`` (where the model has a pooler) and the mean of
    ``last_hidden_state`` over its real tokens."""

    @classmethod
    def process(cls, data, parameters):
        out = {"mean_last_hidden_state": [np.asarray(h, np.float64).mean(axis=0).tolist() if h else []
                                          for h in data["last_hidden_state"]]}
        if "pooler_output" in data:
            out["pooler_output"] = data["pooler_output"]
        return out


class SentenceEmbeddingPostHandler(BasePostHandler):
    """A sentence-transformers model: for each text, its embedding (the model's pooling, Dense and Normalize)."""

    @classmethod
    def process(cls, data, parameters):
        return {"sentence_embedding": data["sentence_embedding"]}


class OutputsPostHandler(BasePostHandler):
    """Any head: every output by name, as the model handler gave it (per-token outputs at the real tokens)."""

    @classmethod
    def process(cls, data, parameters):
        return {k: v for k, v in data.items() if k not in ("head", "special", "segment")}
