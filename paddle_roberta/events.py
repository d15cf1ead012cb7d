"""Stage events: ``convert``, ``export`` and ``export_inference`` report each stage they reach to an
``on_stage(stage, detail)`` callback (the command line prints the details as its progress lines; a GUI or a test may
do anything else there, pausing included). ``detail`` is a line for people, or None.

- ``reading``: the arguments and the output path are checked; the source is being read;
- ``converting``: the temporary output directory exists;
- ``verifying``: the output is written and is being compared with the other framework (not with ``verify=False``);
- ``verified``: the comparison passed (or was skipped); paddle and the other frameworks have been imported;
- ``written``: everything is written; the temporary directory is about to be moved into place.
"""

from __future__ import annotations

import sys

STAGES = ("reading", "converting", "verifying", "verified", "written")


def reporter(progress: bool = False, on_stage=None):
    """The ``report(stage, detail=None)`` a pipeline calls: prints ``detail`` on stderr where ``progress``, then passes
    the event to ``on_stage``."""

    def report(stage: str, detail: str | None = None):
        if progress and detail:
            print(f"paddle-roberta: {detail}", file=sys.stderr, flush=True)
        if on_stage is not None:
            on_stage(stage, detail)

    return report
