"""``python -m paddle_roberta`` and the ``paddle-roberta`` command (``entry``). Until the command line's own handlers
are in place (``cli.main``), a SIGINT or SIGTERM ends the process with the same one line: nothing has been written
yet, so there is nothing to clean up."""

import os
import signal

from .signals import LINES


def _early(signum, frame):
    os.write(2, (LINES[signum] + "\n").encode())
    os._exit(128 + signum)


def entry():
    for s in LINES:
        signal.signal(s, _early)
    from .cli import main

    main(exit_process=True)


if __name__ == "__main__":
    entry()
