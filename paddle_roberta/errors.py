"""The one exception type the package raises for bad input."""

from __future__ import annotations


class ConversionError(Exception):
    """A checkpoint, config or output path that cannot be converted.

    The message is one line that names the file or tensor and what is wrong with it;
    the command-line tool prints it as is and exits non-zero.
    """

    def __init__(self, message: str, details: str | None = None):
        super().__init__(message)
        self.details = details  # e.g. the verify table that failed: shown by the CLI below the message


class UsageError(ConversionError):
    """Arguments that cannot work, found before any framework is imported (``preflight``): the command line exits 2."""
