"""The command line, paused at a stage event: ``python tests/pause_cli.py STAGE ARGS...`` runs
``paddle_roberta.cli.main(ARGS)`` and, when the command reports STAGE (``paddle_roberta.events``), prints
"paddle-roberta: paused at STAGE" on stderr and waits (10 minutes at most) for the test's signal."""

import sys
import time

from paddle_roberta.cli import main


def pause_at(wanted):
    def on_stage(stage, detail):
        if stage != wanted:
            return
        print(f"paddle-roberta: paused at {stage}", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(0.05)

    return on_stage


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[2:], on_stage=pause_at(sys.argv[1])))
