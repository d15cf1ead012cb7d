"""The ``paddle-roberta`` command line."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import signal
import sys
import time
import warnings

from . import preflight
from ._version import __version__
from .errors import ConversionError, UsageError
from .families.tables import FAMILIES
from .files.output_dir import MARKER
from .parity.gate import libraries_for_verify
from .parity.torch_side import start_early
from .signals import Terminated, exit_at_once, handled, preload


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a tolerance must be a positive finite number")
    return value


def _common_parsers() -> tuple:
    """Options several commands share, defined once: (every command's, the tolerance, commands that write a
    directory through the verify gate)."""
    every = argparse.ArgumentParser(add_help=False)
    every.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    tolerance = argparse.ArgumentParser(add_help=False)
    tolerance.add_argument("--atol", type=_tolerance, default=1e-5,
                           help="verify tolerance (default 1e-5, scaled by outputs above 1)")
    writes = argparse.ArgumentParser(add_help=False, parents=[tolerance])
    writes.add_argument("--overwrite", action="store_true", help="replace the output directory when all it holds is "
                        "this tool's unchanged output (only once the new one is complete)")
    writes.add_argument("--no-verify", action="store_true", help="skip the parity check against the other framework")
    writes.add_argument("--quiet", action="store_true", help="no progress lines (shown on a terminal), no summary")
    return every, tolerance, writes


class _Parser(argparse.ArgumentParser):
    """argparse's refusals as one line (its own print the whole usage first), with the closest option for a
    misspelt one, and unknown arguments reported by the command they were given to."""

    def error(self, message):
        words = message.split()
        if message.startswith("unrecognized arguments:"):
            options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
            close = [difflib.get_close_matches(w.split("=")[0], options, n=1) for w in words[2:] if w.startswith("-")]
            close = [c[0] for c in close if c]
            if close:
                message += f" (did you mean {close[0]}?)"
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")

    def parse_args(self, args=None, namespace=None):
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            commands = next((a for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)
            owner = commands.choices.get(getattr(args, "command", None), self) if commands else self
            owner.error(f"unrecognized arguments: {' '.join(extras)}")
        return args


def build_parser() -> argparse.ArgumentParser:
    about = ("Convert Hugging Face BERT/RoBERTa/XLM-RoBERTa checkpoints into PaddleNLP directories and export them "
             "back, every path verified.")
    parser = _Parser(prog="paddle-roberta", description=about)
    parser.add_argument("--debug", action="store_true", help="show the Python traceback on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    every, tolerance, writes = _common_parsers()

    c = sub.add_parser("convert", parents=[every, writes], help="convert a Hugging Face model directory into a "
                                                                "PaddleNLP one")
    c.add_argument("src", help="Hugging Face model directory (config.json + weights) or hub id")
    c.add_argument("out", help="output directory (must not exist unless --overwrite)")
    c.add_argument("--format", choices=["safetensors", "pdparams"], default="safetensors")
    c.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    c.add_argument("--num-choices", type=int, default=2, help="choices per example for *ForMultipleChoice (default 2)")
    c.add_argument("--family", choices=list(FAMILIES), help="override family detection")
    c.add_argument("--head", metavar="CLASS", help="convert to this head (e.g. BertForPreTraining) instead of the one "
                   "config.json names, when the checkpoint holds its tensors")
    c.add_argument("--weights", metavar="FILE", help="the weights file to read when SRC holds two formats that differ")

    v = sub.add_parser("verify", parents=[every, tolerance],
                       help="compare a converted directory with its torch original, text to logits")
    v.add_argument("src", help="the Hugging Face model directory that was converted")
    v.add_argument("out", help="the converted PaddleNLP directory")
    v.add_argument("--text", nargs="+", action="extend", default=[], metavar="T",
                   help="sentences to add to the built-in ones (several after one --text, or --text repeated)")
    v.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    v.add_argument("--weights", metavar="FILE", action="append", default=[],
                   help="a weights file of SRC or OUT to read when that directory holds two formats that differ")

    e = sub.add_parser("export", parents=[every, writes],
                       help="write a PaddleNLP directory as a Hugging Face PyTorch one or a Paddle Inference "
                            "model, verified")
    e.add_argument("paddle_dir", help="a PaddleNLP Bert*/Roberta*/XLMRoberta* directory (converted, or saved with "
                                      "save_pretrained)")
    e.add_argument("dest", help="the directory to write (must not exist unless --overwrite)")
    e.add_argument("--to", choices=["huggingface", "inference", "onnx"], default="huggingface",
                   help="huggingface (the default): transformers directory; inference: static graph for "
                        "paddle.inference; onnx: ONNX model for onnxruntime (the onnx extra: paddle2onnx)")
    e.add_argument("--source", help="--to inference/onnx: the Hugging Face original to verify against (default: the "
                                    "dygraph Paddle model)")
    e.add_argument("--weights", metavar="FILE", help="the weights file of PADDLE_DIR to read when it holds two formats "
                   "that differ (a fine-tune saved in place: model_state.pdparams)")
    e.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="--to inference: the precision the export runs at by default; bfloat16 needs a CPU with "
                        "AVX512-BF16 or AMX and is verified at a bar of its own (default float32)")
    e.add_argument("--quantize", choices=["int8"], help="--to onnx: add an int8 model (onnxruntime's dynamic "
                   "quantisation) that the export runs by default, verified at a bar of its own")

    k = sub.add_parser("cache", parents=[every], help="the from_pretrained cache ($PADDLE_ROBERTA_CACHE, else "
                                                      "~/.cache/paddle_roberta)")
    k.add_argument("action", choices=["list", "clear"], help="list: its entries, least recently used first; clear: "
                                                             "remove them")

    ls = sub.add_parser("list", parents=[every], help="the seed models this project knows, with their shapes")
    ls.add_argument("--json", action="store_true", help="machine-readable, with each seed's whole config")
    return parser


def main(argv=None, on_stage=None, exit_process=False) -> int:
    """The command line on ``argv``; ``on_stage(stage, detail)``: called at each stage of the command (``events``).
    ``exit_process`` (the ``paddle-roberta`` command): end the process here, the handlers still in force, so that a
    signal during the interpreter's teardown cannot kill it silently (Python resets them to the default then)."""
    args = build_parser().parse_args(argv)
    args.on_stage, args.started = on_stage, time.time()
    # SIGTERM and Ctrl-C unwind (the cleanup removes the half-written temporary directory), even once
    # paddle, which replaces the SIGTERM handler when imported, is loaded (signals.py)
    with handled():
        code = _main(args)
        if exit_process:
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, signal.SIG_IGN)  # done: nothing left to interrupt
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def _main(args) -> int:
    exit_at_once(True)  # nothing is written before _run: a signal ends the process at once
    try:
        _preflight(args)  # decided from the arguments and the files alone, before any framework is imported
        if _imports_paddle(args):
            _frameworks_first(args)
    except UsageError as e:
        if args.debug:
            raise
        print(f"paddle-roberta: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print("paddle-roberta: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("paddle-roberta: interrupted", file=sys.stderr)
        return 130
    finally:
        exit_at_once(False)
    return _run(args)


def _frameworks_first(args) -> None:
    """paddle and paddlenlp imported before any other thread exists (signals.preload), as quietly as verify imports
    them; convert's verification helper started first, so that torch's import overlaps theirs."""
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    os.environ.setdefault("GLOG_minloglevel", "2")  # paddle's C++ warnings (W… lines) off stderr
    warnings.filterwarnings("ignore")
    logging.getLogger("datasets").setLevel(logging.ERROR)
    if args.command == "convert" and not args.no_verify and libraries_for_verify():
        start_early()
    preload()


def _preflight(args) -> None:
    if args.command == "convert":
        preflight.convert(args.src, args.out, args.overwrite, args.head, args.weights)
    elif args.command == "export":
        if args.source and args.to == "huggingface":
            raise UsageError("--source is for --to inference and onnx (export --to huggingface verifies against the "
                             "PaddleNLP input)")
        if args.precision != "float32" and args.to != "inference":
            why = "an ONNX export runs in float32" if args.to == "onnx" else "Hugging Face exports keep their dtype"
            raise UsageError(f"--precision is for --to inference ({why})")
        if args.quantize and args.to != "onnx":
            raise UsageError("--quantize int8 is for --to onnx (onnxruntime's dynamic quantisation)")
        if args.to == "onnx":
            from .inference.onnx import require

            require()
        preflight.export(args.paddle_dir, args.dest, args.overwrite, args.source, args.weights)
        if args.precision != "float32":
            from .serving.precision import check_precision

            check_precision(args.precision)
    elif args.command == "verify":
        preflight.verify(args.src, args.out)
        if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
            raise UsageError(f"{args.json}: its directory does not exist")  # before the minutes of work, not after


def _imports_paddle(args) -> bool:
    """Will this command load a Paddle model (verification, or export to inference)?"""
    if args.command == "verify":
        return True
    if args.command in ("convert", "export"):
        return not args.no_verify or getattr(args, "to", None) in ("inference", "onnx")
    return False


def _run(args) -> int:
    try:
        if args.command == "convert":
            return _convert(args)
        if args.command == "verify":
            return _verify(args)
        if args.command == "export":
            return _export(args)
        if args.command == "list":
            return _list(args.json)
        if args.command == "cache":
            return _cache(args)
    except Terminated as e:
        print(f"paddle-roberta: terminated (SIGTERM){_completed(args)}", file=sys.stderr)
        return e.code
    except ConversionError as e:
        if args.debug:
            raise
        print(f"paddle-roberta: error: {e}", file=sys.stderr)
        if e.details:
            print(e.details, file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    except KeyboardInterrupt:
        print(f"paddle-roberta: interrupted{_completed(args)}", file=sys.stderr)
        return 130
    return 2


def _completed(args) -> str:
    """Where the signal came after the output was moved into place: the words that say it is complete."""
    out = getattr(args, "out", None) if args.command == "convert" else getattr(args, "dest", None)
    marker = os.path.join(out, MARKER) if out else None
    if marker and os.path.isfile(marker) and os.path.getmtime(marker) >= args.started:
        return f" after {out} was written: it is complete"
    return ""


def _convert(args) -> int:
    from .convert import convert

    result = convert(
        args.src, args.out, format=args.format, dtype=args.dtype, num_choices=args.num_choices,
        overwrite=args.overwrite, family=args.family, head=args.head, verify=False if args.no_verify else None,
        atol=args.atol, weights=args.weights, **_stages(args),
    )
    if not args.quiet:
        d = result.plan.dims
        print(f"{args.src} -> {result.path}")
        layers = f"{d['layers']} layer{'' if d['layers'] == 1 else 's'}"
        print(f"  class   {result.model_class}  ({layers}, hidden {d['H']}, vocab {d['V']})")
        _summary(result)
    return 0


def _stages(args) -> dict:
    """The stage lines on a terminal (not with --quiet), and the caller's ``on_stage``."""
    return {"progress": not args.quiet and sys.stderr.isatty(), "on_stage": args.on_stage}


def _summary(result):
    """The lines every command that writes a model prints after its class line."""
    plan = result.plan
    groups = plan.dropped_heads if plan else []
    buffers = [n for n in result.dropped if not any(n.startswith(g.split("*")[0]) for g in groups)]
    line = f"  tensors {result.tensors} written"
    if result.dropped:
        line += f", {len(result.dropped)} dropped on purpose" + (f" (buffers: {', '.join(buffers)})" if buffers else "")
    if result.tokenizer is not None or plan is None or plan.to == "hf":
        line += f"; tokenizer: {result.tokenizer or 'none'}"
    print(line)
    for group in groups:
        print(f"  dropped {group}")
    for note in result.notes:
        print(f"  note    {note}")
    if result.verify_report:
        print("\n" + result.verify_report.to_text())


def _verify(args) -> int:
    from .files.source import resolve
    from .files.weight_files import in_folder
    from .parity.gate import gate
    from .parity.verify import verify

    # a directory or a hub id, as for convert; --weights may name one of its files (OUT: checked by preflight.verify)
    src = resolve(args.src, in_folder(args.src, args.weights) if os.path.isdir(args.src) else None).path
    report = gate(args.out, lambda: verify(src, args.out, texts=args.text, atol=args.atol, weights=args.weights),
                  written=True)
    if args.on_stage is not None:
        args.on_stage("verified", None)
    print(report.to_text())
    if args.json:
        try:
            report.write_json(args.json)
        except OSError as e:
            raise ConversionError(f"{args.json}: cannot write the report ({e.strerror})") from None
    return 0 if report.ok else 1


def _export(args) -> int:
    if args.to in ("inference", "onnx"):
        return _export_inference(args)
    from .export_hf import export

    result = export(args.paddle_dir, args.dest, to=args.to, overwrite=args.overwrite,
                    verify=False if args.no_verify else None, atol=args.atol, weights=args.weights, **_stages(args))
    if not args.quiet:
        print(f"{args.paddle_dir} -> {result.path}")
        print(f"  class   {result.model_class} (transformers)")
        _summary(result)
    return 0


def _export_inference(args) -> int:
    from .export_inference import export_inference

    result = export_inference(args.paddle_dir, args.dest, source=args.source, overwrite=args.overwrite,
                              verify=False if args.no_verify else None, atol=args.atol, weights=args.weights,
                              precision=args.precision, to=args.to, quantize=args.quantize, **_stages(args))
    if not args.quiet:
        print(f"{args.paddle_dir} -> {result.path}")
        runs = "onnxruntime (ONNX)" if args.to == "onnx" else "Paddle Inference"
        print(f"  model   {result.model_class} for {runs}; inputs "
              f"{', '.join(i['name'] for i in result.inputs)}; "
              f"outputs {', '.join(result.outputs)}")
        if result.verify_report:
            print("\n" + result.verify_report.to_text())
    return 0


def _cache(args) -> int:
    import time

    from .files import cache

    root = cache.cache_root()
    if args.action == "clear":
        try:
            gone = cache.clear(root)
        except OSError as e:
            raise ConversionError(f"removing {e.filename or root}: {e.strerror or e}") from None
        print(f"{root}: removed {len(gone)} entries ({_size(sum(e.size for e in gone))})")
        return 0
    found = cache.entries(root)
    print(f"{root}: {len(found)} entries, {_size(sum(e.size for e in found))} (unused for {cache.MAX_AGE_DAYS} days, "
          f"or beyond {_size(cache.max_bytes())}: removed at the next use)")
    for e in found:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
        print(f"  {os.path.basename(e.path)}  {_size(e.size):>10}  last used {used}  {e.paddle_class}  from {e.source}")
    return 0


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _list(as_json: bool) -> int:
    from .dev.seeds import SEEDS

    if as_json:
        import json

        print(json.dumps([{"name": s.name, "hf_class": s.hf_class, "paddle_class": s.paddle_class, "params": s.params,
                           "file_size": s.file_size, "config": s.config} for s in SEEDS.values()], indent=2))
        return 0
    print("| seed | family | PaddleNLP class | layers | hidden | heads | vocab | params | file |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in SEEDS.values():
        c = s.config
        family = "bert (CLUE, config says roberta)" if s.name.startswith("clue/") else c["model_type"]
        print(f"| {s.name} | {family} | {s.paddle_class} | {c['num_hidden_layers']} | {c['hidden_size']} | "
              f"{c['num_attention_heads']} | {c['vocab_size']} | {s.params} | {s.file_size} |")
    return 0
