"""The ONNX model of a traced static graph (``export --to onnx``): paddle2onnx on ``inference.trace``'s files, opset
17, with the graph's outputs renamed to ``inference.json``'s names (paddle2onnx calls them ``fetch_name_N``).

paddle2onnx's own optimisation step runs Polygraphy with ``POLYGRAPHY_AUTOINSTALL_DEPS=1`` set by paddle2onnx itself,
which pip-installs onnxruntime and onnx_graphsurgeon into the running environment; it runs only when paddle2onnx
writes the file (``save_file``), so the model is taken back as bytes and written here, and nothing is installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile

from ..errors import ConversionError, UsageError

ONNX_FILE = "model.onnx"
OPSET = 17
# converting; renaming; folding paddle2onnx's Identity nodes over weights (so int8 quantisation finds the MatMuls'
# weights); running (verification and Predictor)
MODULES = ("paddle2onnx", "onnx", "onnxoptimizer", "onnxruntime")
INT8_FILE = "model.int8.onnx"
# paddle2onnx feeds every weight through an Identity node: folded so that MatMuls read initializers (outputs unchanged)
PASSES = ["eliminate_identity", "extract_constant_to_initializer", "eliminate_unused_initializer", "eliminate_deadend"]


def require():
    """A UsageError in one line when a module ``export --to onnx`` needs is not installed (checked before any work)."""
    missing = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"export --to onnx needs {', '.join(missing)}, not installed in {sys.prefix}: install the "
                         "onnx extra (pip install -c constraints.txt -e '.[onnx]')")


def save_onnx(folder: str, spec: dict):
    """Convert ``folder``'s static graph (``spec["model_file"]``, ``spec["params_file"]``) into ``folder``/model.onnx
    with ``spec["outputs"]`` as its output names; records the file in ``spec`` (the static graph's files stay: the
    caller removes them)."""
    import onnx
    import onnxoptimizer
    import paddle2onnx

    graph, params = os.path.join(folder, spec["model_file"]), os.path.join(folder, spec["params_file"])
    with _captured() as log:  # paddle2onnx prints from C++ on every run, and its errors only to the log
        try:
            data = paddle2onnx.export(graph, params, None, opset_version=OPSET, auto_upgrade_opset=False,
                                      enable_onnx_checker=True)
        except Exception as e:  # noqa: BLE001 -- paddle2onnx fails with NameError after logging the real error
            data, error = None, e
        else:
            error = None
    if not data:
        said = [line.strip() for line in "".join(log).splitlines()
                if "error" in line.lower() or "not supported" in line.lower()]
        reason = said[0] if said else f"{type(error).__name__}: {error}" if error else "it returned nothing"
        raise ConversionError(f"paddle2onnx could not convert {spec['graph_class']}'s static graph ({reason[:300]})")
    model = onnx.load_model_from_string(data)
    if len(model.graph.output) != len(spec["outputs"]):
        raise ConversionError(f"paddle2onnx gave {len(model.graph.output)} outputs for {spec['graph_class']}, "
                              f"inference.json names {len(spec['outputs'])}: {spec['outputs']}")
    for output, name in zip(model.graph.output, spec["outputs"]):  # by hand: onnx 1.17 has no renaming helper
        old, output.name = output.name, name
        for node in model.graph.node:
            for field in (node.output, node.input):
                for i, value in enumerate(field):
                    if value == old:
                        field[i] = name
    _name_dims(model, spec)
    model = onnxoptimizer.optimize(model, PASSES)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(folder, ONNX_FILE))
    spec.update(model_file=ONNX_FILE, params_file=None, engine="onnxruntime", opset=OPSET)


def _name_dims(model, spec: dict):
    """The dynamic dimensions of the inputs and outputs by what they are (paddle2onnx: ``DynamicDimension.N``, each
    its own): batch, choices (multiple choice), sequence."""
    axes = {2: ["batch", "sequence"], 3: ["batch", "choices", "sequence"], 4: ["batch", None, "sequence", "sequence"]}
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        for dim, name in zip(dims, axes.get(len(dims), [])):
            if name and dim.dim_param:
                dim.dim_param = name
    for value in model.graph.output:
        dims = value.type.tensor_type.shape.dim
        names = ["batch", "sequence"] if value.name in spec["per_token"] else ["batch"]
        for dim, name in zip(dims, names):
            if dim.dim_param:
                dim.dim_param = name


def quantize_int8(folder: str, spec: dict):
    """``folder``/model.int8.onnx: onnxruntime's dynamic quantisation of ``save_onnx``'s model (every MatMul's weights
    to int8, activations quantised per call); the export then runs it by default (``spec["precision"]``), the float32
    model beside it (``spec["float32_model_file"]``)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _captured():  # it logs a suggestion to pre-process on every call
        quantize_dynamic(os.path.join(folder, ONNX_FILE), os.path.join(folder, INT8_FILE), weight_type=QuantType.QInt8)
    spec.update(model_file=INT8_FILE, float32_model_file=ONNX_FILE, precision="int8")


@contextlib.contextmanager
def _captured():
    """File descriptors 1 and 2 (C++ writes there, past ``sys.stdout``) and ``sys.stdout``/``sys.stderr`` into a
    temporary file for the block; the list the block gets holds the text written, once the block is over."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved, text = [os.dup(1), os.dup(2)], []
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as log:
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):  # its Python side prints
                yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            log.seek(0)
            text.append(log.read())
