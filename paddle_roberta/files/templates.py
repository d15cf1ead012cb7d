"""Prose shipped to users (model cards, export READMEs, the SimpleServer app) lives in template files beside the code
that fills it (``<stage>/templates/``), rendered with Jinja2."""

from __future__ import annotations

import os


def render(folder: str, template: str, **values) -> str:
    """``folder``/templates/``template`` (``folder``: the calling module's directory) filled with ``values``."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(folder, "templates")), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**values)
