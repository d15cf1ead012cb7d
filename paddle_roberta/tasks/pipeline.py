"""``pipeline(task, model)``: answers in the shape ``transformers.pipeline(task, model=<the torch original>)`` gives
for the same inputs and options, from a converted directory (dygraph) or a Paddle Inference export.

    from paddle_roberta import pipeline
    classify = pipeline("text-classification", "converted/")
    classify("这家餐厅很好吃")                  # [{"label": "positive", "score": 0.98}]
    classify(["…", "…"], top_k=None)           # every label of each text, best first

Tasks: ``text-classification`` (``sentiment-analysis``), ``fill-mask``, ``feature-extraction``,
``token-classification`` (``ner``), ``question-answering``. A string gives one
answer, a list a list, any other iterable (a generator, a dataset's column) a generator of answers, run in batches
of ``batch_size`` (``progress=True``: a tqdm count on stderr). Bad input or an unknown option is a one-line
``ValueError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from . import fill_mask, question_answering, text_classification, token_classification
from .runners import open_runner

HEADS = {"text-classification": "ForSequenceClassification", "fill-mask": "ForMaskedLM", "feature-extraction": "Model",
         "token-classification": "ForTokenClassification", "question-answering": "ForQuestionAnswering"}
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
TASK_OF_HEAD = {head: task for task, head in HEADS.items() if head != "Model"}
OPTIONS = {  # each task's call options besides batch_size, truncation and max_length
    "text-classification": ("top_k", "function_to_apply"),
    "fill-mask": ("top_k", "targets"),
    "feature-extraction": (),
    "token-classification": ("aggregation_strategy", "ignore_labels"),
    # max_question_len: taken and unused, as transformers' fast-tokenizer path does
    "question-answering": ("top_k", "doc_stride", "max_answer_len", "max_seq_len", "max_question_len",
                           "handle_impossible_answer", "align_to_words", "question", "context"),
}
COMMON = ("batch_size", "truncation", "max_length", "progress")
FLAGS = ("truncation", "progress", "handle_impossible_answer", "align_to_words")


def pipeline(task: str, model, **options) -> Pipeline:
    """``model``: a directory ``paddle-roberta convert`` wrote or ``export --to inference`` wrote. ``options``: the
    defaults of every call (the task's options, ``batch_size``, ``truncation``, ``max_length``)."""
    name = ALIASES.get(task, task)
    if name not in HEADS:
        raise ValueError(f"task {task!r} is not one of {', '.join(sorted([*HEADS, *ALIASES]))}")
    path = os.fspath(model)
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ValueError(f"{path}: no config.json; give a directory paddle-roberta convert or export --to inference "
                         "wrote")
    pipe = Pipeline(name, open_runner(path))
    pipe.defaults = pipe.check(options)
    return pipe


class Pipeline:
    def __init__(self, task: str, runner):
        self.task, self.runner, self.defaults = task, runner, {}
        want = HEADS[task]
        if runner.sentence_export:  # the graph ends with the pooling: its one output is the sentence embedding
            raise ValueError(f"{runner.path} is a sentence-transformers model's export: its graph gives sentence "
                             f"embeddings only; use Predictor({runner.path!r}).encode(texts) (or {task} on the "
                             "converted PaddleNLP directory)")
        if runner.head != want:
            raise ValueError(f"{runner.path} is a {runner.config['architectures'][0]}: {task} needs a "
                             f"{runner.family.class_prefix}{want}")

    def check(self, options: dict) -> dict:
        allowed = OPTIONS[self.task] + COMMON
        for key, value in options.items():
            if key not in allowed:
                raise ValueError(f"{key} is not an option of {self.task} ({', '.join(allowed)})")
            if key in FLAGS and not isinstance(value, bool):
                raise ValueError(f"{key} must be True or False, not {value!r}")
            if key == "ignore_labels" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ValueError(f"ignore_labels must be a list of label names, not {value!r}")
            if key == "targets" and not (isinstance(value, str) or (isinstance(value, list) and value and
                                                                     all(isinstance(v, str) for v in value))):
                raise ValueError(f"targets must be a string or a non-empty list of strings, not {value!r}")
            if key in ("top_k", "batch_size", "max_length", "doc_stride", "max_answer_len", "max_seq_len") and \
                    value is not None and \
                    (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{key} must be a positive integer, not {value!r}")
            if key == "function_to_apply" and value not in text_classification.FUNCTIONS:
                raise ValueError(f"function_to_apply must be one of {', '.join(text_classification.FUNCTIONS)}, "
                                 f"not {value!r}")
            if key == "aggregation_strategy" and value not in token_classification.STRATEGIES:
                raise ValueError(f"aggregation_strategy must be one of {', '.join(token_classification.STRATEGIES)}, "
                                 f"not {value!r}")
        return options

    def __call__(self, inputs=None, **options):
        options = {**self.defaults, **self.check(options)}
        if self.task == "question-answering":
            return self._questions(inputs, options)
        if isinstance(inputs, (str, dict)):
            return self._answer([inputs], options)[0] if self.task != "text-classification" else \
                self._classification_single(inputs, options)
        if isinstance(inputs, list):
            if not inputs:
                raise ValueError(f"{self.task}: an empty list; give at least one text")
            answers = self._answer(inputs, options)
            return answers[0] if self.task == "fill-mask" and len(inputs) == 1 else answers
        if isinstance(inputs, Iterable):
            return self._stream(inputs, options)
        raise ValueError(f"{self.task} takes a string, a list of strings or an iterable of them, not "
                         f"{type(inputs).__name__}")

    def _questions(self, inputs, options):
        """transformers' forms: ``question=``/``context=`` (strings, or lists zipped), a ``{"question", "context"}``
        dict or a list of them; one example gives its answer, several a list."""
        question, context = options.pop("question", None), options.pop("context", None)
        if inputs is None:
            if question is None or context is None:
                raise ValueError("question-answering takes question= and context=, or {'question', 'context'} dicts")
            if isinstance(question, str) != isinstance(context, str):
                raise ValueError("question and context: both strings, or both lists of the same length")
            if not isinstance(question, str) and len(question) != len(context):
                raise ValueError(f"{len(question)} questions and {len(context)} contexts: they go in pairs")
            inputs = {"question": question, "context": context} if isinstance(question, str) else \
                [{"question": q, "context": c} for q, c in zip(question, context)]
        examples = [inputs] if isinstance(inputs, dict) else inputs
        if not isinstance(examples, list) or not examples:
            raise ValueError("question-answering: give a {'question', 'context'} dict or a non-empty list of them")
        for i, ex in enumerate(examples):
            if not isinstance(ex, dict) or set(ex) != {"question", "context"} or \
                    not all(isinstance(ex[k], str) and ex[k] for k in ex):
                raise ValueError(f"input {i}: a question is {{'question': str, 'context': str}}, both non-empty")
        tokenizer = self.runner.tokenizer
        # past the model's positions it could not read the window: cut there, as the other tasks' max_length is
        max_seq_len = min(options.get("max_seq_len") or min(tokenizer.model_max_length, 384), self.runner.max_length)
        stride = options.get("doc_stride") or min(max_seq_len // 2, 128)
        with self.runner.text_lock:
            found = [question_answering.windows(tokenizer, ex["question"], ex["context"], max_seq_len, stride, i)
                     for i, ex in enumerate(examples)]
        flat = [w for ws in found for w in ws]
        size, logits = options.get("batch_size", 8), []
        for start in range(0, len(flat), size):
            some = flat[start:start + size]
            out = self.runner.run(self.runner.pad(some))
            logits += [(out["start_logits"][i][:len(w["input_ids"])], out["end_logits"][i][:len(w["input_ids"])])
                       for i, w in enumerate(some)]
        results, at = [], 0
        for ex, ws in zip(examples, found):
            results.append(question_answering.answers(
                ex["context"], ws, logits[at:at + len(ws)], options.get("top_k", 1),
                options.get("handle_impossible_answer", False), options.get("max_answer_len", 15),
                options.get("align_to_words", True)))
            at += len(ws)
        return results[0] if len(results) == 1 else results

    def _classification_single(self, text, options):
        answer = self._answer([text], options)[0]
        # transformers' own quirk, kept: a string's answer (not a text pair's) comes in a list unless top_k is given
        return [answer] if isinstance(text, str) and "top_k" not in options else answer

    def _stream(self, inputs, options):
        if options.get("progress"):  # a count of the texts done (a generator has no length to show a bar against)
            from tqdm import tqdm

            inputs = tqdm(inputs, desc=self.task, unit="text", total=getattr(inputs, "__len__", lambda: None)())
        batch = []
        for item in inputs:
            batch.append(item)
            if len(batch) == options.get("batch_size", 8):
                yield from self._answer(batch, options)
                batch = []
        if batch:
            yield from self._answer(batch, options)

    def _answer(self, inputs: list, options: dict) -> list:
        texts, pairs = self._texts(inputs)
        size = options.get("batch_size", 8)
        answers = []
        for start in range(0, len(texts), size):
            some = texts[start:start + size]
            some_pairs = None if pairs is None else pairs[start:start + size]
            # token classification truncates at the tokenizer's length unless told, as transformers' does
            truncation = options.get("truncation", self.task == "token-classification")
            extra = {"return_offsets_mapping": True, "return_special_tokens_mask": True} \
                if self.task == "token-classification" else {}
            feed, encodings = self.runner.tokenize(some, some_pairs, truncation, options.get("max_length"),
                                                   first=start, **extra)
            out = self.runner.run(feed)
            answers += self._post(feed, out, options, some, encodings)
        return answers

    def _texts(self, inputs):
        texts, pairs = [], []
        for i, item in enumerate(inputs):
            if isinstance(item, dict) and self.task == "text-classification":
                if set(item) - {"text", "text_pair"} or not isinstance(item.get("text"), str) or \
                        not isinstance(item.get("text_pair", ""), str):
                    raise ValueError(f"input {i}: a text pair is {{'text': str, 'text_pair': str}}, not "
                                     f"{sorted(item)}")
                texts.append(item["text"])
                pairs.append(item.get("text_pair"))
            elif isinstance(item, str):
                texts.append(item)
                pairs.append(None)
            else:
                raise ValueError(f"input {i} is a {type(item).__name__}, not a string"
                                 + (" or a {'text', 'text_pair'} dict" if self.task == "text-classification" else ""))
        return texts, pairs

    def _post(self, feed, out, options, texts, encodings) -> list:
        mask = feed["attention_mask"].astype(bool)
        if self.task == "text-classification":
            config = self.runner.config
            function = options.get("function_to_apply") or text_classification.default_function(config)
            legacy = "top_k" not in options
            scores = text_classification.scores(out["logits"], function)
            return [text_classification.labels(config, row, options.get("top_k", 1), legacy) for row in scores]
        if self.task == "fill-mask":
            tokenizer = self.runner.tokenizer
            targets = options.get("targets")
            ids = None if targets is None else fill_mask.target_ids(tokenizer, targets)
            answers = []
            for i, (row, real) in enumerate(zip(feed["input_ids"], mask)):
                if not (row[real] == tokenizer.mask_token_id).any():
                    raise ValueError(f"input {i} has no {tokenizer.mask_token}: fill-mask fills a text's masks")
                answers.append(fill_mask.fill(tokenizer, row[real], out["logits"][i][real], options.get("top_k", 5),
                                              ids))
            return answers
        if self.task == "token-classification":
            id2label = {int(k): v for k, v in (self.runner.config.get("id2label") or {}).items()}
            return [token_classification.entities(self.runner.tokenizer, id2label, text, enc, out["logits"][i],
                                                  options.get("aggregation_strategy", "none"),
                                                  options.get("ignore_labels"))
                    for i, (text, enc) in enumerate(zip(texts, encodings))]
        hidden = out["last_hidden_state"]
        return [[hidden[i][real].tolist()] for i, real in enumerate(mask)]  # [1, tokens, hidden] per text
