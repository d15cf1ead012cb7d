"""The gate every output passes before it is moved into place: verified against the other framework, or not at all.

``convert``, ``export_hf``, ``export_inference`` and ``paddle-roberta verify`` all decide here whether to verify
(``verify_policy``) and run their comparison through ``gate``, which holds ``VERIFY_LOCK`` while it loads models and
turns a failed or broken comparison into one ConversionError; ``verified`` gates ``verify`` of a finished directory.
"""

from __future__ import annotations

import importlib.util
import threading

from ..errors import ConversionError

# transformers' from_pretrained swaps global torch state while it builds a model (meta-device
# initialisation): two at once in one process leave later models on the meta device.
VERIFY_LOCK = threading.Lock()


def verified(hf_dir: str, paddle_dir: str, out: str, atol: float, weights=None, torch_side=None):
    """``verify`` of a finished temporary directory (the PaddleNLP one for ``convert``, the Hugging Face one for
    ``export``) through ``gate``. ``torch_side``: as ``verify`` takes it."""
    from .verify import verify

    return gate(out, lambda: verify(hf_dir, paddle_dir, atol=atol, weights=weights, torch_side=torch_side))


def gate(out: str, run, written: bool = False, hint: str = ""):
    """``run()``'s ``Report``, made under ``VERIFY_LOCK``; a ConversionError naming ``out`` where it failed (the
    report's text as details) or could not run. ``written``: ``out`` exists already (``verify``: a failed report is
    returned), else nothing is written. ``hint``: what to do, added to a failure's message."""
    tail = "" if written else "; nothing written"
    try:
        with VERIFY_LOCK:
            report = run()
    except ConversionError:
        raise
    except Exception as e:  # the source loads for conversion but not in transformers / PaddleNLP, a wrong --source
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ConversionError(f"{out}: verification could not run ({type(e).__name__}: {first}){tail}") from e
    if not report.ok and not written:
        hint = f" ({hint})" if hint else ""
        raise ConversionError(f"{out}: verification failed ({', '.join(report.failures())}){tail}{hint}",
                              report.to_text())
    return report


def verify_policy(verify) -> tuple:
    """(run verify?, why not) for ``verify`` True (required), False (off) or None (whenever it can run)."""
    if verify is False:
        return False, ""
    why = "" if libraries_for_verify() else "torch, transformers or paddlenlp is not installed"
    if why and verify:
        raise ConversionError(f"cannot verify: {why} (pass verify=False to convert unverified)")
    return not why, why


def libraries_for_verify() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "paddle", "paddlenlp"))
