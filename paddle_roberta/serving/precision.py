"""The precision an export runs at: float32; bfloat16 through Paddle Inference's oneDNN where the CPU computes it; int8
weights in an ONNX export quantised by onnxruntime (``export --to onnx --quantize int8``).

bfloat16 keeps float32's range with an 8-bit mantissa: matrix products run 2-3x faster on CPUs with AVX512-BF16 or
AMX, and outputs move by ~1e-2 on trained weights. On a CPU without either, oneDNN emulates it, slower than float32,
so it is refused there rather than run slowly. Neither is ever a default: a user asks for it, and an export made with
it is verified at a bar of its own (``parity.inference.LOW_PRECISION_ATOL``), stated in its report, not at float32's
1e-5.
"""

from __future__ import annotations

from ..errors import UsageError

PRECISIONS = ("float32", "bfloat16", "int8")  # int8: an ONNX export quantised with --quantize int8
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo's names for AVX512-BF16 and AMX-BF16


def cpu_flags() -> tuple[str, set]:
    """This CPU's model name and feature flags (Linux: /proc/cpuinfo; elsewhere none are known)."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def check_precision(precision: str) -> str:
    """``precision`` if this machine can run it, else a UsageError (a ConversionError; the command line exits 2) in
    one line naming what the CPU lacks."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "bfloat16":
        model, flags = cpu_flags()
        if not flags & set(BF16_FLAGS):
            raise UsageError(f"precision bfloat16 needs a CPU with AVX512-BF16 or AMX-BF16 (cpuinfo flags "
                                  f"{' or '.join(BF16_FLAGS)}); this one ({model}) has neither: use float32")
    return precision
