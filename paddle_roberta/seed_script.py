"""What every script in convert/ does: convert one seed model and insist on its known shapes."""

from __future__ import annotations

import argparse
import sys

from .convert import convert_with_report
from .errors import ConversionError
from .seeds import SEEDS

SHAPE_KEYS = {"layers": "num_hidden_layers", "H": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
              "P": "max_position_embeddings", "Y": "type_vocab_size"}


def main(name: str, argv=None) -> int:
    seed = SEEDS[name]
    parser = argparse.ArgumentParser(description=f"Convert {name} ({seed.hf_class}) into PaddleNLP {seed.paddle_class}.")
    parser.add_argument("src", help=f"local directory holding {name} (config.json + weights)")
    parser.add_argument("out", help="output directory")
    parser.add_argument("--format", choices=["safetensors", "pdparams"], default="safetensors")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--no-verify", action="store_true", help="skip the parity check against the torch original")
    args = parser.parse_args(argv)

    def expect(plan):
        wrong = [f"{cfg} {plan.dims[k]} (expected {seed.config[cfg]})" for k, cfg in SHAPE_KEYS.items()
                 if plan.dims[k] != seed.config[cfg]]
        if plan.paddle_class != seed.paddle_class:
            wrong.append(f"class {plan.paddle_class} (expected {seed.paddle_class})")
        if wrong:
            raise ConversionError(f"{args.src}: not {name}: {', '.join(wrong)}")

    try:
        result = convert_with_report(args.src, args.out, format=args.format, overwrite=args.overwrite, expect=expect,
                                     verify=False if args.no_verify else None)
        plan = result.plan
    except ConversionError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 1
    print(f"{name} -> {result.path} ({plan.paddle_class}, {plan.dims['layers']} layers, hidden {plan.dims['H']}, vocab {plan.dims['V']})")
    for note in plan.notes:
        print(f"  note: {note}")
    if result.verify_report:
        print("\n" + result.verify_report["text"])
    return 0
