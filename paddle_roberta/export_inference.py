"""PaddleNLP directory -> Paddle Inference model: ``paddle-roberta export PADDLE_DIR DEST --to inference``.

The model of the directory (its head, loaded without random initialisation) is traced with
``paddle.jit.to_static`` on InputSpecs with dynamic batch and sequence length, the inputs its head
takes (``token_type_ids`` for BERT only; 3-D for multiple choice; for PaddleNLP's RobertaForCausalLM
the additive causal mask it needs, built by ``serving.Predictor`` from the 0/1 mask), and saved with
``paddle.jit.save``. Beside it: config.json, the tokenizer files, ``inference.json`` (inputs and
outputs, in order) and a README. Before it is moved into place it is run through Paddle Inference's
predictor (``serving.Predictor``, oneDNN on) and compared with the torch original (``source``) or else
the dygraph Paddle model, on ``verify``'s sentences, at ``verify``'s bar and positions.
"""

from __future__ import annotations

import json
import os
import shutil

from .errors import ConversionError
from .families.detect import paddle_family_and_head, written_by_transformers
from .families.plan import table_rows
from .families.tables import FAMILIES, hf_class_for
from .files.output_dir import building, check_output, write_marker
from .files.source import read_config
from .parity import compare as parity
from .parity.gate import VERIFY_LOCK, verify_policy
from .result import Result
from .sentence.modules import read_pipeline
from .serving import INFERENCE_JSON, Predictor
from .signals import pause_point
from .tokenizer.kind import TOKENIZER_FILES


def export_inference(paddle_dir, dest, *, source=None, overwrite=False, verify=None, atol=1e-5, weights=None) -> Result:
    """Write the Paddle Inference model of the PaddleNLP directory ``paddle_dir`` into ``dest``, verified against the
    torch original at ``source`` (a Hugging Face directory) or else the dygraph PaddleNLP model. Returns a ``Result``
    (``inputs``/``outputs`` in the static graph's order); ConversionError on bad input or a failed verification,
    leaving nothing at ``dest``."""
    verify, _ = verify_policy(verify)
    src = os.path.abspath(os.fspath(paddle_dir))
    dest = os.path.abspath(os.fspath(dest))
    if not os.path.isdir(src):
        raise ConversionError(f"{src}: no such directory")
    config_path = os.path.join(src, "config.json")
    config = read_config(config_path)
    if written_by_transformers(config):
        raise ConversionError(f"{config_path}: a Hugging Face directory, not a PaddleNLP one; convert it first "
                              "(paddle-roberta convert), then export the result")
    fam, head = paddle_family_and_head(config, config_path)
    if source is not None and not os.path.isfile(os.path.join(os.fspath(source), "config.json")):
        raise ConversionError(f"{source}: not a Hugging Face model directory (no config.json) for --source")
    check_output(dest, src, overwrite)
    pause_point("reading")

    from .parity.loading import load
    from .parity.verify import quiet_libraries

    quiet_libraries()
    dtype = config.get("dtype", "float32")
    model = load(src, fam.heads[head].paddle_class, dtype="float32" if dtype != "float32" else None, weights=weights)
    served_fam = FAMILIES[SERVED_AS.get(fam.name, fam.name)]
    served = model if served_fam is fam else _as_family(model, fam, served_fam, head, config)
    spec = _spec(served_fam, head, config)
    spec.update(family=fam.name, paddle_class=fam.heads[head].paddle_class, graph_class=served_fam.heads[head].paddle_class)
    pipeline = read_pipeline(src)  # a sentence-transformers model: the graph ends with its pooling, Dense, Normalize
    sentence_head = None
    if pipeline is not None:
        from .sentence.encoder import dense_values
        from .sentence.pooling import SentenceHead

        sentence_head = SentenceHead(pipeline, dense_values(pipeline))
        _sentence_spec(spec, pipeline)
    with building(dest, overwrite) as tmp:
        pause_point("converting")
        _save_static(served, spec, tmp, sentence_head)
        for name in TOKENIZER_FILES + ("config.json",):
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(tmp, name))
        with open(os.path.join(tmp, INFERENCE_JSON), "w", encoding="utf-8") as f:
            json.dump(spec, f, indent=2)
        report = None
        if verify:
            with VERIFY_LOCK:
                try:
                    report = _verified(tmp, dest, model, fam, head, spec, source, atol, src)
                except ConversionError:
                    raise
                except Exception as e:  # a --source that loads but is not this model's original, ...
                    first = (str(e).strip().splitlines() or [""])[0][:200]
                    raise ConversionError(f"{dest}: verification could not run ({type(e).__name__}: {first}); "
                                          "nothing written") from e
            pause_point("verifying")
        _write_readme(tmp, spec, report, os.path.basename(dest))
        write_marker(tmp, src, spec["paddle_class"] + " (Paddle Inference)")
        pause_point("writing")
    return Result(dest, spec["paddle_class"], len(model.state_dict()), verify_report=report,
                  weights_file=os.path.join(dest, spec["params_file"]), inputs=spec["inputs"], outputs=spec["outputs"])


# PaddleNLP's xlm_roberta module code does not convert to a static graph in paddle 3.3.1 (dy2static
# deadlocks on XLMRobertaSelfAttention, and its reshapes read static shapes); XLM-RoBERTa is RoBERTa's
# architecture, so it is served through PaddleNLP's Roberta class of the same head, its weights mapped
# through the two tables (HF names join them) and the result verified like any other export.
SERVED_AS = {"xlm-roberta": "roberta"}
STATIC_PREFIX = "auto_static/inference"  # the static graph and its weights, relative to the export directory


def _as_family(model, fam, served_fam, head, config):
    """``model`` (a PaddleNLP ``fam`` model) as the ``served_fam`` class of the same head, every weight mapped."""
    import paddlenlp.transformers as pt

    layers = config["num_hidden_layers"]
    state = {k: v for k, v in model.state_dict().items()}
    rows, pooler = table_rows(fam, head, layers, fam.prefix(head), fam.prefix(head))
    by_hf = {hf: state[row.paddle] for row in rows + pooler if row.paddle in state for hf in row.hf}
    rows, pooler = table_rows(served_fam, head, layers, fam.prefix(head), served_fam.prefix(head))
    served_config = dict(config, model_type=served_fam.name, architectures=[served_fam.heads[head].paddle_class])
    cls = getattr(pt, served_fam.heads[head].paddle_class)
    served = cls(cls.config_class(**{k: v for k, v in served_config.items() if k not in ("paddle_roberta", "dtype")}))
    wanted = served.state_dict()
    values = {}
    for row in rows + pooler:
        source = next((by_hf[h] for h in row.hf if h in by_hf), None)
        if row.paddle in wanted and source is not None:
            values[row.paddle] = source
    missing = sorted(set(wanted) - set(values))
    if missing:
        raise ConversionError(f"{served_fam.heads[head].paddle_class}: no {fam.name} weight maps to {missing[0]}")
    served.set_state_dict(values)
    served.eval()
    return served


def _spec(fam, head, config) -> dict:
    rank = 3 if head == "ForMultipleChoice" else 2
    causal = parity.needs_causal_mask(fam.name, head)
    inputs = [{"name": "input_ids", "dtype": "int64", "rank": rank},
              {"name": "attention_mask", "dtype": "float32" if causal else "int64", "rank": 4 if causal else rank}]
    if fam.token_types:
        inputs.append({"name": "token_type_ids", "dtype": "int64", "rank": rank})
    outputs = (["last_hidden_state"] if head == "Model" else []) + list(parity.HEAD_OUTPUTS[head].values())
    per_token = ["last_hidden_state"] + [p for h, p in parity.HEAD_OUTPUTS[head].items()
                                         if h in parity.PER_TOKEN or f"{h}@{head}" in parity.PER_TOKEN]
    return {"family": fam.name, "paddle_class": fam.heads[head].paddle_class, "head": head, "rank": rank,
            "inputs": inputs, "outputs": outputs, "per_token": [o for o in outputs if o in per_token],
            "causal_mask": causal, "max_length": fam.positions(config["max_position_embeddings"], config["pad_token_id"]),
            "model_file": None, "params_file": None}


def _sentence_spec(spec, pipeline):
    """A sentence-transformers model's graph: its one output is the embedding; ``pooling_mask`` (the attention mask
    with the prompt's tokens zeroed) is an input where the pooling leaves the prompt out."""
    if spec["head"] != "Model":
        raise ConversionError(f"sentence_encoder.json beside a {spec['paddle_class']}: a sentence-transformers model's "
                              "body is the bare model")
    spec["outputs"], spec["per_token"] = ["sentence_embedding"], []
    if not pipeline.pooling["include_prompt"]:
        spec["inputs"].append({"name": "pooling_mask", "dtype": "int64", "rank": 2})
    spec["sentence"] = dict(pipeline.as_json(), sentence_transformers={}, dimension=pipeline.dimension,
                            summary=pipeline.summary())


def _save_static(model, spec, folder, sentence_head=None):
    import paddle
    import paddlenlp.transformers as pt

    class Sentence(paddle.nn.Layer):
        """The body, then the sentence-transformers pipeline (``sentence.pooling``): the embedding as the output."""

        def __init__(self, inner, head, names):
            super().__init__()
            self.inner, self.head, self.names = inner, head, names

        def forward(self, input_ids, attention_mask, third=None, fourth=None):  # dy2static takes no *args
            extra = dict(zip(self.names[2:], (third, fourth)))
            pooling_mask = extra.pop("pooling_mask", attention_mask)
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **extra)
            return (self.head(out["last_hidden_state"], pooling_mask),)

    class Serving(paddle.nn.Layer):
        """The model with its inputs named and its outputs as a tuple, in inference.json's order."""

        def __init__(self, inner, outputs):
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

    shapes = {2: [None, None], 3: [None, None, None], 4: [None, 1, None, None]}  # every size dynamic
    specs = [paddle.static.InputSpec(shapes[i["rank"]], i["dtype"], name=i["name"]) for i in spec["inputs"]]
    if sentence_head is not None:
        layer = Sentence(model, sentence_head, [i["name"] for i in spec["inputs"]])
    else:
        layer = Serving(model, spec["outputs"])
    layer.eval()
    static = paddle.jit.to_static(layer, input_spec=specs, full_graph=True)
    # where PaddleNLP's SimpleServer looks first (paddlenlp/server/predictor.py: MODEL_DIR/auto_static/inference.json)
    paddle.jit.save(static, os.path.join(folder, STATIC_PREFIX))
    found = [STATIC_PREFIX + s for s in (".json", ".pdmodel") if os.path.isfile(os.path.join(folder, STATIC_PREFIX + s))]
    if not found or not os.path.isfile(os.path.join(folder, STATIC_PREFIX + ".pdiparams")):
        raise ConversionError(f"{folder}: paddle.jit.save wrote no model file ({sorted(os.listdir(folder))})")
    spec["model_file"] = found[0]  # .json (PIR, paddle 3) or .pdmodel (older)
    spec["params_file"] = STATIC_PREFIX + ".pdiparams"


def _verified(tmp, dest, model, fam, head, spec, source, atol, src) -> dict:
    from .parity.verify import FILL_MASK, SENTENCES

    predictor = Predictor(tmp)
    if spec.get("sentence"):
        return _verified_sentences(predictor, dest, model, source, atol, src)
    cfg = model.config
    if os.path.isfile(os.path.join(tmp, "tokenizer_config.json")):
        import paddlenlp.transformers as pt

        mask = pt.AutoTokenizer.from_pretrained(tmp).mask_token
        texts = SENTENCES[fam.name] + [t.format(mask=mask) for t in FILL_MASK[fam.name]]
        choices = getattr(cfg, "num_choices", None) or 2
        inputs = predictor.tokenize([[t] * choices for t in texts] if spec["rank"] == 3 else texts)
    else:
        inputs = parity.make_batch(fam.name, head, cfg.vocab_size, cfg.max_position_embeddings, cfg.pad_token_id,
                                   num_choices=getattr(cfg, "num_choices", None) or 2)
    got = predictor.run(inputs)
    if source is not None:
        import transformers

        reference = "torch original (transformers)"
        torch_model = getattr(transformers, hf_class_for(spec["paddle_class"])).from_pretrained(os.fspath(source)).eval()
        if head in ("ForSequenceClassification", "ForTokenClassification") and torch_model.config.num_labels != cfg.num_labels:
            raise ConversionError(f"{source}: --source has {torch_model.config.num_labels} labels, this model "
                                  f"{cfg.num_labels}: not the model it was converted from (leave --source out to "
                                  "verify against the PaddleNLP model)")
        ref = parity.run_torch(torch_model, inputs)
    else:
        reference = "dygraph PaddleNLP model"
        ref = parity.run_paddle(model, inputs, causal=parity.needs_causal_mask(fam.name, head))
    real = inputs["attention_mask"].reshape(-1, inputs["attention_mask"].shape[-1]).astype(bool)
    last = parity.diff("last", ref["hidden_states"][-1], ref["hidden_states"][-1], real).scale
    rows = []
    for name in spec["outputs"]:
        want = ref["hidden_states"][-1] if name == "last_hidden_state" else ref[name]
        d = parity.diff(name, want, got[name].reshape(want.shape), real if name in spec["per_token"] else None)
        d.input_scale = 0.0 if name == "last_hidden_state" else last
        rows.append({"name": d.name, "shape": list(d.shape), "max_abs": d.max_abs, "max_rel": d.max_rel,
                     "within": d.within(atol), "padded_max_abs": d.padded_max_abs})
    lines = [f"Paddle Inference predictor (oneDNN, 2 threads) vs {reference}, {len(real)} sequences, "
             f"atol {atol:g} x max(1, max|output|, |last hidden| for heads)", "", parity.TABLE_HEAD]
    return _report(dest, reference, lines, rows)


def _report(dest, reference, lines, rows) -> dict:
    """The report of rows judged (``lines``: its header), or the ConversionError naming the rows that failed."""
    lines = lines + [parity.table_row(r["name"], r["shape"], r["max_abs"], r["max_rel"], r["within"],
                                      r.get("padded_max_abs")) for r in rows]
    ok = all(r["within"] for r in rows)
    lines += ["", "PASS" if ok else "FAIL"]
    report = {"reference": reference, "outputs": rows, "ok": ok, "text": "\n".join(lines)}
    if not ok:
        failed = ", ".join(r["name"] for r in rows if not r["within"])
        raise ConversionError(f"{dest}: verification failed ({failed}); nothing written", report["text"])
    return report


def _verified_sentences(predictor, dest, model, source, atol, src) -> dict:
    """The exported graph's embeddings (``Predictor.encode``) against sentence-transformers' encode of the original
    (``source``), or else ``SentenceEncoder`` on the PaddleNLP directory: ``parity.sentence``'s texts and bars."""
    from .parity.sentence import sentence_rows
    from .parity.torch_side import TorchSide

    if source is not None:
        reference, side, ref_src = "sentence-transformers on the torch original", TorchSide(), os.path.abspath(source)
    else:
        from .sentence.encoder import SentenceEncoder

        reference, side, ref_src = "SentenceEncoder (dygraph PaddleNLP model)", _EncoderSide(SentenceEncoder(src, model=model)), None
    # a half-precision directory: the original runs as float32 on the same rounded weights (as verify does)
    rows, info = sentence_rows(side, ref_src, predictor, atol, dtype=read_config(os.path.join(src, "config.json")).get(
        "dtype", "float32"))
    lines = [f"Paddle Inference predictor (oneDNN, 2 threads), Predictor.encode vs {reference}: {info['pipeline']}; "
             f"{info['texts']} texts" + (f", and with each other prompt ({', '.join(info['prompts'])})" if info["prompts"] else "")
             + f"; atol {atol:g} x max(1, max|embedding|), pairwise cosines within 1e-6 (or, where float32 is less "
             "precise, no further from the reference in float64 than twice its own float32)", "", parity.TABLE_HEAD]
    return _report(dest, reference, lines, rows)


class _EncoderSide:
    """``sentence_rows``' reference side from a dygraph ``SentenceEncoder`` (no torch original given)."""

    def __init__(self, encoder):
        self.encoder = encoder

    def call(self, name, src, texts, prompt_name, dtype, precision="float32"):
        if precision == "float64":
            return self.encoder.encode_float64(texts, prompt_name=prompt_name)
        return self.encoder.encode(texts, prompt_name=prompt_name, batch_size=4)


# The SimpleServer post handler for each head, as the export's README writes its app.py (serving/simple_server.py).
POST_HANDLERS = {
    "ForSequenceClassification": ("paddlenlp.server", "MultiClassificationPostHandler"),
    "ForTokenClassification": ("paddle_roberta.serving.simple_server", "TokenClassificationPostHandler"),
    "ForQuestionAnswering": ("paddle_roberta.serving.simple_server", "QuestionAnsweringPostHandler"),
    "Model": ("paddle_roberta.serving.simple_server", "EmbeddingPostHandler"),
}
DEFAULT_POST_HANDLER = ("paddle_roberta.serving.simple_server", "OutputsPostHandler")


def server_file(spec, name) -> list:
    """README lines: the ``app.py`` that serves this export (the folder ``name``) with PaddleNLP's SimpleServer, for
    its head."""
    module, post = POST_HANDLERS.get(spec["head"], DEFAULT_POST_HANDLER)
    route = spec["head"].lower()
    if spec.get("sentence"):
        module, post, route = "paddle_roberta.serving.simple_server", "SentenceEmbeddingPostHandler", "sentence_embedding"
        prompts = [n for n, t in spec["sentence"]["prompts"].items() if t]
        parameters = {"batch_size": 8, "normalize": False, "max_seq_len": spec["sentence"]["max_seq_length"],
                      **({"prompt_name": prompts[0]} if prompts else {})}
    request = ('{"data": {"text": ["first text", "second text"]}, "parameters": ' + json.dumps(parameters) + "}"
               if spec.get("sentence") else '{"data": {"text": ["Which city?"], "text_pair": ["The capital is Beijing."]}}'
               if spec["head"] == "ForQuestionAnswering" else
               '{"data": {"text": [["first choice", "second choice"]]}}' if spec["rank"] == 3 else
               '{"data": {"text": ["first text", "second text"]}, "parameters": {"max_seq_len": 128, "batch_size": 8}}')
    imports = (f"from paddle_roberta.serving.simple_server import ModelHandler, {post}" if module.startswith("paddle_roberta")
               else f"from {module} import {post}\nfrom paddle_roberta.serving.simple_server import ModelHandler")
    return [
        "## Serving it with PaddleNLP's SimpleServer", "",
        f"`app.py` in the folder that holds `{name}/` (or set `MODEL_DIR` to this folder's path); its static graph is "
        "where SimpleServer looks, `auto_static/inference.json`, and `ModelHandler` feeds the inputs above by name, "
        "pads to length buckets and runs on one thread:", "",
        "```python",
        "import os",
        "from paddlenlp import SimpleServer",
        imports,
        "",
        f"MODEL = os.environ.get(\"MODEL_DIR\", {json.dumps(name)})",
        "app = SimpleServer()",
        f'app.register("models/{route}", model_path=MODEL, tokenizer_name=MODEL,',
        f"             model_handler=ModelHandler, post_handler={post})",
        "```", "",
        f"Start it there with `paddlenlp server app:app --host 0.0.0.0 --port 8189`, then POST "
        f"`{request}` to `http://HOST:8189/models/{route}`. A bad request gets a 422 with a message."
        + (' `parameters` may also give a literal `"prompt"` (`""` for none); any other key is a 422.'
           if spec.get("sentence") else ""),
    ]


def _write_readme(folder, spec, report, name):
    inputs = ", ".join(f"`{i['name']}` {i['dtype']} {'[batch, choices, seq]' if i['rank'] == 3 else '[batch, 1, seq, seq]' if i['rank'] == 4 else '[batch, seq]'}"
                       for i in spec["inputs"])
    lines = [
        f"# {spec['paddle_class']} for Paddle Inference", "",
        *([f"Traced through PaddleNLP's `{spec['graph_class']}` (the same architecture, its weights mapped by "
           "paddle-roberta's tables): PaddleNLP's XLM-RoBERTa code does not convert to a static graph.", ""]
          if spec["graph_class"] != spec["paddle_class"] else []),
        f"Static graph `{spec['model_file']}` + `{spec['params_file']}`, exported by paddle-roberta with dynamic batch and "
        f"sequence length (up to {spec['max_length']} tokens). Inputs, in order: {inputs}. Outputs, in order: "
        f"{', '.join('`' + o + '`' for o in spec['outputs'])} (`inference.json` says the same for programs).", "",
        "```python",
        "from paddle_roberta.serving import Predictor   # tokenizer + paddle.inference predictor",
        "predictor = Predictor(\"this-folder\")           # oneDNN on, 2 CPU threads",
        *(["vectors = predictor.encode([\"first text\", \"second text\"], batch_size=32)  # as SentenceTransformer.encode"]
          if spec.get("sentence") else ["outputs = predictor([\"first text\", \"second text\"])"]),
        "```", "",
        *([f"The graph ends with the sentence-transformers pipeline ({spec['sentence']['summary']}): its output is the "
           f"{spec['sentence']['dimension']}-wide embedding. `encode` prepends the prompt, strips the texts and cuts them "
           f"at max_seq_length {spec['sentence']['max_seq_length']} as sentence-transformers does"
           + ("; `pooling_mask` is the attention mask with the prompt's tokens zeroed (this model pools without them)."
              if any(i["name"] == "pooling_mask" for i in spec["inputs"]) else "."), ""] if spec.get("sentence") else []),
        "Or with `paddle.inference` alone: `Config(model_file, params_file)`, `enable_mkldnn()`, "
        "`set_cpu_math_library_num_threads(2)`, `create_predictor`, then copy each input in the order above.",
    ]
    lines += ["", *server_file(spec, name)]
    if spec["causal_mask"]:
        lines += ["", "`attention_mask` is the additive causal mask PaddleNLP's RobertaForCausalLM needs "
                  "(0 where allowed, -1e4 elsewhere); `Predictor` builds it from the usual 0/1 mask."]
    lines += ["", "## Verified before it was written", "", report["text"] if report else "Not verified (`--no-verify`)."]
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
