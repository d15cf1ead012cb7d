"""The gate every output passes before it is moved into place: verified against the other framework, or not at all.

``convert``, ``export_hf`` and ``export_inference`` all decide here whether to verify (``verify_policy``) and hold
``VERIFY_LOCK`` while a comparison loads models; ``verified`` runs ``verify`` on a finished temporary directory.
"""

from __future__ import annotations

import importlib.util
import threading

from ..errors import ConversionError

# transformers' from_pretrained swaps global torch state while it builds a model (meta-device
# initialisation): two at once in one process leave later models on the meta device.
VERIFY_LOCK = threading.Lock()


def verified(hf_dir: str, paddle_dir: str, out: str, atol: float, weights=None, torch_side=None) -> dict:
    """``verify`` of a finished temporary directory (the PaddleNLP one for ``convert``, the Hugging Face one for
    ``export``), its text under "text"; raises naming ``out`` if it failed or could not run. ``torch_side``: as
    ``verify`` takes it."""
    from .verify import failures, format_report, verify

    try:
        with VERIFY_LOCK:
            report = verify(hf_dir, paddle_dir, atol=atol, weights=weights, torch_side=torch_side)
    except ConversionError:
        raise
    except Exception as e:  # the source loads for conversion but not in transformers / PaddleNLP
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ConversionError(f"{out}: verification could not run ({type(e).__name__}: {first}); nothing written") from e
    report["text"] = format_report(report)
    if not report["ok"]:
        raise ConversionError(f"{out}: verification failed ({', '.join(failures(report))}); nothing written", report["text"])
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
