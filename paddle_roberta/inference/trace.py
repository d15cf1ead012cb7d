"""The static graph: the model wrapped so its inputs are named and its outputs a tuple in ``inference.json``'s order,
traced by ``paddle.jit.to_static`` on InputSpecs with every size dynamic, saved by ``paddle.jit.save`` where
PaddleNLP's SimpleServer looks first (paddlenlp/server/predictor.py: MODEL_DIR/auto_static/inference.json)."""

from __future__ import annotations

import os

from ..errors import ConversionError
from .spec import STATIC_PREFIX


def save_static(model, spec, folder, sentence_head=None):
    """Trace ``model`` (then ``sentence_head``, a ``sentence.pooling.SentenceHead``, where given) into ``folder``;
    records the files written in ``spec``."""
    import paddle

    shapes = {2: [None, None], 3: [None, None, None], 4: [None, 1, None, None]}  # every size dynamic
    specs = [paddle.static.InputSpec(shapes[i["rank"]], i["dtype"], name=i["name"]) for i in spec["inputs"]]
    if sentence_head is not None:
        layer = _sentence_layer(model, sentence_head, [i["name"] for i in spec["inputs"]])
    else:
        layer = _serving_layer(model, spec["outputs"])
    layer.eval()
    static = paddle.jit.to_static(layer, input_spec=specs, full_graph=True)
    paddle.jit.save(static, os.path.join(folder, STATIC_PREFIX))
    found = [STATIC_PREFIX + s for s in (".json", ".pdmodel")
             if os.path.isfile(os.path.join(folder, STATIC_PREFIX + s))]
    if not found or not os.path.isfile(os.path.join(folder, STATIC_PREFIX + ".pdiparams")):
        raise ConversionError(f"{folder}: paddle.jit.save wrote no model file ({sorted(os.listdir(folder))})")
    spec["model_file"] = found[0]  # .json (PIR, paddle 3) or .pdmodel (older)
    spec["params_file"] = STATIC_PREFIX + ".pdiparams"


def _serving_layer(inner, outputs):
    import paddle
    import paddlenlp.transformers as pt

    class Serving(paddle.nn.Layer):
        """The model with its inputs named and its outputs as a tuple, in inference.json's order."""

        def __init__(self):
            super().__init__()
            self.inner, self.outputs = inner, outputs

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            if isinstance(self.inner, pt.RobertaForTokenClassification):
                # its forward's early returns do not convert (dy2static: "UndefinedVar has no len()"): the
                # same computation, base model then classifier (dropout is the identity in eval)
                hidden = self.inner.roberta(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]
                return (self.inner.classifier(hidden),)
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **extra)
            return tuple(out[name] for name in self.outputs)

    return Serving()


def _sentence_layer(inner, head, names):
    import paddle

    class Sentence(paddle.nn.Layer):
        """The body, then the sentence-transformers pipeline (``sentence.pooling``): the embedding as the output."""

        def __init__(self):
            super().__init__()
            self.inner, self.head, self.names = inner, head, names

        def forward(self, input_ids, attention_mask, third=None, fourth=None):  # dy2static takes no *args
            extra = dict(zip(self.names[2:], (third, fourth)))
            pooling_mask = extra.pop("pooling_mask", attention_mask)
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **extra)
            return (self.head(out["last_hidden_state"], pooling_mask),)

    return Sentence()
