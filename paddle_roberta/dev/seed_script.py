"""What every script in convert/ does: convert one seed model, or any fine-tune of it, and insist on its shape.

A fine-tune keeps its seed's encoder and puts another head on it (a distilroberta-base classifier is
still a distilroberta-base), so the check is the encoder's shape and the family, whatever the head;
anything else is refused with a line that points to ``paddle-roberta convert``, which takes any shape.
"""

from __future__ import annotations

import argparse
import sys

from ..convert import convert
from ..errors import ConversionError
from ..files.source import resolve
from ..signals import Terminated, handled
from .seeds import SEEDS

SHAPE_KEYS = {"layers": "num_hidden_layers", "H": "hidden_size", "V": "vocab_size", "I": "intermediate_size",
              "P": "max_position_embeddings", "Y": "type_vocab_size"}
FAMILY_BY_PREFIX = (("XLMRoberta", "xlm-roberta"), ("Roberta", "roberta"), ("Bert", "bert"))


def seed_family(paddle_class: str) -> str:
    return next(family for prefix, family in FAMILY_BY_PREFIX if paddle_class.startswith(prefix))


def main(name: str, argv=None) -> int:
    seed = SEEDS[name]
    family = seed_family(seed.paddle_class)
    parser = argparse.ArgumentParser(description=f"Convert {name} ({seed.paddle_class}), or a fine-tune of "
                                                 f"it (any head "
                                     f"on its encoder), into PaddleNLP.")
    parser.add_argument("src", help=f"local directory holding {name} or a fine-tune of it (config.json + weights)")
    parser.add_argument("out", help="output directory")
    parser.add_argument("--format", choices=["safetensors", "pdparams"], default="safetensors")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if this tool wrote it and nothing "
                                                                 "in it changed")
    parser.add_argument("--no-verify", action="store_true", help="skip the parity check against the torch original")
    args = parser.parse_args(argv)

    def expect(plan):
        wrong = [f"{cfg} {plan.dims[k]} (expected {seed.config[cfg]})" for k, cfg in SHAPE_KEYS.items()
                 if plan.dims[k] != seed.config[cfg]]
        heads = resolve(args.src).config.get("num_attention_heads")
        if heads != seed.config["num_attention_heads"]:
            wrong.append(f"num_attention_heads {heads} (expected {seed.config['num_attention_heads']})")
        if plan.family.name != family:
            wrong.append(f"family {plan.family.name} (expected {family})")
        if wrong:
            raise ConversionError(f"{args.src}: not {name} or a fine-tune of it: {', '.join(wrong)}; "
                                  f"`paddle-roberta convert {args.src} {args.out}` converts any "
                                  f"BERT/RoBERTa/XLM-RoBERTa shape")

    with handled():  # SIGTERM and Ctrl-C leave nothing behind, as for the command line
        try:
            result = convert(args.src, args.out, format=args.format, overwrite=args.overwrite, expect=expect,
                             verify=False if args.no_verify else None)
        except ConversionError as e:
            print(f"{name}: error: {e}", file=sys.stderr)
            return 1
        except Terminated as e:
            print(f"{name}: terminated (SIGTERM)", file=sys.stderr)
            return e.code
        except KeyboardInterrupt:
            print(f"{name}: interrupted", file=sys.stderr)
            return 130
    plan = result.plan
    print(f"{name} -> {result.path} ({plan.paddle_class}, {plan.dims['layers']} layers, hidden {plan.dims['H']}, "
          f"vocab {plan.dims['V']})")
    for note in plan.notes:
        print(f"  note: {note}")
    if result.verify_report:
        print("\n" + result.verify_report.to_text())
    return 0
