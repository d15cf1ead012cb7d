"""The ``paddle-roberta`` command line."""

from __future__ import annotations

import argparse
import sys

from .errors import ConversionError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paddle-roberta", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the Python traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert", help="convert a Hugging Face model directory into a PaddleNLP one")
    c.add_argument("src", help="Hugging Face model directory (config.json + weights)")
    c.add_argument("out", help="output directory (must not exist unless --overwrite)")
    c.add_argument("--format", choices=["safetensors", "pdparams"], default="safetensors")
    c.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    c.add_argument("--num-choices", type=int, default=2, help="choices per example for *ForMultipleChoice (default 2)")
    c.add_argument("--family", choices=["bert", "roberta"], help="override family detection")
    c.add_argument("--overwrite", action="store_true", help="replace OUT (only once the new one is complete)")
    c.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "convert":
            return _convert(args)
    except ConversionError as e:
        if args.debug:
            raise
        print(f"paddle-roberta: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paddle-roberta: interrupted", file=sys.stderr)
        return 130
    return 2


def _convert(args) -> int:
    from .convert import convert_with_report

    result = convert_with_report(
        args.src, args.out, format=args.format, dtype=args.dtype, num_choices=args.num_choices,
        overwrite=args.overwrite, family=args.family, progress=not args.quiet and sys.stderr.isatty(),
    )
    if not args.quiet:
        plan = result.plan
        d = plan.dims
        print(f"{args.src} -> {result.path}")
        print(f"  class   {plan.paddle_class}  ({d['layers']} layers, hidden {d['H']}, vocab {d['V']})")
        print(f"  tensors {len(plan.entries)} written, {len(plan.dropped)} dropped on purpose ({', '.join(plan.dropped) or 'none'})")
        for note in plan.notes:
            print(f"  note    {note}")
    return 0
