"""The one exception type the package raises for bad input."""


class ConversionError(Exception):
    """A checkpoint, config or output path that cannot be converted.

    The message is one line that names the file or tensor and what is wrong with it;
    the command-line tool prints it as is and exits non-zero.
    """
