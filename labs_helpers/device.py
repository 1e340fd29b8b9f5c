"""Where the model runs and in which precision: cuda, then mps, then cpu; never fp16 for T5."""

from __future__ import annotations

from .errors import LabsError

DTYPES = ("float32", "bfloat16")


def pick_device(requested: str | None = None) -> str:
    """The requested device if it is available, else the best one: cuda, then mps, then cpu."""
    import torch

    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if requested:
        kind, _, index = requested.partition(":")
        if kind not in available or not (index == "" and ":" not in requested or index.isdigit()):
            raise LabsError(
                f"LABS_DEVICE={requested!r} is not a device this kit knows. "
                "Use cuda, cuda:N (N a GPU's number), mps or cpu, or unset it."
            )
        if kind == "cuda" and available["cuda"] and int(index or 0) >= torch.cuda.device_count():
            raise LabsError(
                f"LABS_DEVICE={requested!r}, but this machine has {torch.cuda.device_count()} GPU(s), "
                "numbered from 0. Choose one of those, or unset LABS_DEVICE."
            )
        if not available[kind]:
            raise LabsError(
                f"LABS_DEVICE={requested!r}, but this machine has no {kind} device. "
                "Unset LABS_DEVICE to pick the best one."
            )
        return requested
    return next(name for name, ok in available.items() if ok)


def pick_dtype(device: str, requested: str | None = None) -> str:
    """fp32 on CPU and MPS, bf16 on CUDA that supports it; fp16 is refused (T5 overflows in it)."""
    import torch

    if requested:
        if requested in ("float16", "fp16", "half"):
            raise LabsError(
                "LABS_DTYPE=float16: T5 models overflow in fp16 and produce NaN. Use bfloat16 or float32, or unset it."
            )
        if requested not in DTYPES:
            raise LabsError(
                f"LABS_DTYPE={requested!r} is not one of {', '.join(DTYPES)}. Use one of those, or unset it."
            )
        return requested
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"
