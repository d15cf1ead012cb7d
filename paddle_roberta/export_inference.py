"""PaddleNLP directory -> Paddle Inference model: ``paddle-roberta export PADDLE_DIR DEST --to inference`` (or an
ONNX model: ``--to onnx``).

read the directory (family, head, config) -> load its model without random initialisation -> (XLM-R: as RoBERTa,
``families.remap``) -> trace and save the static graph (``inference.trace``, inputs and outputs from
``inference.spec``) -> (ONNX: converted by ``inference.onnx``, the static graph dropped) -> copy config and
tokenizer -> verify the predictor (``parity.inference`` through the gate) -> README (``inference.readme``) -> rename
into place.
"""

from __future__ import annotations

import json
import os
import shutil

from . import preflight
from .errors import ConversionError, UsageError
from .events import reporter
from .families.detect import paddle_family_and_head
from .families.remap import as_family, served_family
from .files.output_dir import building, write_marker
from .files.source import read_config
from .inference.onnx import quantize_int8, save_onnx
from .inference.onnx import require as require_onnx
from .inference.readme import write_readme
from .inference.spec import STATIC_PREFIX, add_sentence, graph_spec
from .inference.trace import save_static
from .parity.gate import gate, verify_policy
from .result import Result
from .sentence.modules import read_pipeline
from .serving import INFERENCE_JSON, Predictor
from .serving.precision import check_precision
from .signals import deferred
from .tokenizer.kind import TOKENIZER_FILES


def export_inference(paddle_dir, dest, *, source=None, overwrite=False, verify=None, atol=1e-5, weights=None,
                     progress=False, on_stage=None, precision="float32", to="inference", quantize=None) -> Result:
    """Write the Paddle Inference model of the PaddleNLP directory ``paddle_dir`` into ``dest``, verified against the
    torch original at ``source`` (a Hugging Face directory) or else the dygraph PaddleNLP model. Returns a ``Result``
    (``inputs``/``outputs`` in the static graph's order); ConversionError on bad input or a failed verification,
    leaving nothing at ``dest``. ``precision="bfloat16"``: the export runs in bfloat16 by default (CPUs with AVX512-BF16
    or AMX only: ``serving.precision``), verified against its float32 run at a bar of its own as well. ``to="onnx"``:
    the same graph as an ONNX model (``inference.onnx``: paddle2onnx, the onnx extra) that ``Predictor`` runs with
    onnxruntime, verified the same way; ``quantize="int8"`` adds its int8 model (onnxruntime's dynamic quantisation),
    run by default and verified against the float32 one at a bar of its own."""
    verify, _ = verify_policy(verify)
    if to not in ("inference", "onnx"):
        raise ConversionError(f"to {to!r}: choose inference or onnx (export_hf.export writes Hugging Face directories)")
    check_precision(precision)
    if to == "onnx":
        require_onnx()
        if precision != "float32":
            raise UsageError("--precision bfloat16 is for --to inference (oneDNN); an ONNX export runs in float32")
    if quantize not in (None, "int8") or (quantize and to != "onnx"):
        raise UsageError(f"quantize {quantize!r}: int8, with --to onnx (onnxruntime's dynamic quantisation)")
    report_stage = reporter(progress, on_stage)
    src = os.path.abspath(os.fspath(paddle_dir))
    dest = os.path.abspath(os.fspath(dest))
    preflight.export(src, dest, overwrite, None if source is None else os.fspath(source), weights)
    config_path = os.path.join(src, "config.json")
    config = read_config(config_path)
    fam, head = paddle_family_and_head(config, config_path)
    report_stage("reading", f"reading {src}")

    from .loading import load
    from .parity.verify import quiet_libraries

    quiet_libraries(torch=source is not None)  # transformers only to run --source
    dtype = config.get("dtype", "float32")
    model = load(src, fam.heads[head].paddle_class, dtype="float32" if dtype != "float32" else None, weights=weights)
    served_fam = served_family(fam)
    served = model if served_fam is fam else as_family(model, fam, served_fam, head, config)
    spec = graph_spec(served_fam, head, config)
    spec.update(family=fam.name, paddle_class=fam.heads[head].paddle_class,
                graph_class=served_fam.heads[head].paddle_class, precision=precision)
    pipeline = read_pipeline(src)  # a sentence-transformers model: the graph ends with its pooling, Dense, Normalize
    sentence_head = None
    if pipeline is not None:
        from .sentence.encoder import dense_values
        from .sentence.pooling import SentenceHead

        sentence_head = SentenceHead(pipeline, dense_values(pipeline))
        add_sentence(spec, pipeline)
    with building(dest, overwrite) as tmp:
        report_stage("converting", f"tracing {spec['graph_class']} into a static graph")
        with deferred():  # dy2static turns an exception inside tracing into its own error with a long traceback
            save_static(served, spec, tmp, sentence_head)
        if to == "onnx":
            report_stage("converting", "converting the static graph to ONNX (paddle2onnx)")
            with deferred():
                save_onnx(tmp, spec)
                if quantize:
                    quantize_int8(tmp, spec)
            shutil.rmtree(os.path.join(tmp, os.path.dirname(STATIC_PREFIX)))
        for name in TOKENIZER_FILES + ("config.json",):
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(tmp, name))
        with open(os.path.join(tmp, INFERENCE_JSON), "w", encoding="utf-8") as f:
            json.dump(spec, f, indent=2)
        report = None
        if verify:
            from .parity.inference import verify_export

            reference = "the torch original" if source else "the dygraph model"
            report_stage("verifying", f"verifying the predictor against {reference}")
            hint = ("if PADDLE_DIR was fine-tuned after its conversion, its outputs differ from --source's by design: "
                    "leave --source out to verify the export against the PaddleNLP model") if source else ""
            lower = "int8" if quantize else precision
            low = (lambda: Predictor(tmp, precision=lower)) if lower != "float32" else (lambda: None)
            report = gate(dest, lambda: verify_export(Predictor(tmp, precision="float32"), src, model, fam, head, spec,
                                                      source, atol, dtype, low()), hint=hint)
        report_stage("verified")
        write_readme(tmp, spec, report, os.path.basename(dest))
        write_marker(tmp, src, spec["paddle_class"] + (" (ONNX)" if to == "onnx" else " (Paddle Inference)"))
        report_stage("written")
    return Result(dest, spec["paddle_class"], len(model.state_dict()), verify_report=report,
                  weights_file=os.path.join(dest, spec["params_file"] or spec["model_file"]), inputs=spec["inputs"],
                  outputs=spec["outputs"])
