"""Where the model runs and in which precision: cuda, then mps, then cpu; bf16 autocast where native; never fp16."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager

if TYPE_CHECKING:
    from torch.nn import Module

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


AUTOCAST = ("bfloat16", "off")
# How batched generation runs: the model as it is (fp32 weights, no autocast), under bf16 autocast, or on a
# bf16 copy of the weights (half the bytes the memory-bound decoder reads per token; the model is not changed).
PRECISIONS = ("fp32", "bf16-autocast", "bf16-weights")
# Which of the two bf16 precisions batched generation uses where the settings choose bf16 (LABS_AUTOCAST):
# bf16 weights, measured 1.57x bf16 autocast with the same summaries (benchmarks/README.md, section 1).
BF16_GENERATION = "bf16-weights"
GENERATION_WORDS = {  # the run card's words for each bf16 choice
    "bf16-autocast": "batched generation in bf16 autocast",
    "bf16-weights": "batched generation on a bf16 copy of the weights",
}
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # x86 instructions that multiply bf16 natively


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native-bf16 flags this CPU reports in /proc/cpuinfo (``cpuinfo``: that file's text; [] elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # macOS, Windows: no /proc; treat as no native bf16
            return []
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return [flag for flag in BF16_CPU_FLAGS if flag in flags]


def native_bf16(device: str, cpuinfo: str | None = None) -> str:
    """Why ``device`` multiplies bf16 natively (e.g. ``"cpu: avx512_bf16"``), or "" when it does not."""
    import torch

    if device.startswith("cuda"):
        return "cuda: bf16 supported" if torch.cuda.is_bf16_supported() else ""
    if device == "cpu":
        flags = cpu_bf16_flags(cpuinfo)
        return f"cpu: {', '.join(flags)}" if flags else ""
    return ""  # mps: bf16 support varies by chip and macOS version; fp32 is the safe default


def pick_autocast(device: str, requested: str | None = None, cpuinfo: str | None = None) -> str:
    """``bfloat16`` where ``device`` multiplies bf16 natively (or when asked), else ``off``."""
    if requested:
        if requested not in AUTOCAST:
            raise LabsError(
                f"LABS_AUTOCAST={requested!r} is not one of {', '.join(AUTOCAST)}. Use one of those, or unset it "
                "(the default is bfloat16 where the hardware multiplies bf16 natively)."
            )
        return requested
    return "bfloat16" if native_bf16(device, cpuinfo) else "off"


def precision_note(device: str, mode: str, cpuinfo: str | None = None) -> str:
    """Which precision runs where on ``device`` under autocast ``mode``, and why (a line of the run card)."""
    native = native_bf16(device, cpuinfo)
    if mode == "off":
        why = f"{native} multiplies bf16 natively; LABS_AUTOCAST=off" if native else f"no native bf16 on this {device}"
        return f"fp32 everywhere ({why})"
    why = native or f"asked for; this {device} has no native bf16, so it runs slower"
    generation = GENERATION_WORDS[BF16_GENERATION]
    return f"fine-tuning in bf16 autocast, {generation} ({why}); weights, PPO and checks by hand in fp32"


def autocast(device: str, mode: str) -> ContextManager:
    """A ``torch.autocast`` context for ``mode`` (``bfloat16``) on ``device``; a no-op for ``off``."""
    import torch

    if mode == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=getattr(torch, mode))


def generation_precision(autocast_mode: str = "off", precision: str | None = None) -> str:
    """``precision`` if given, else what ``autocast_mode`` implies: ``fp32`` for off, ``BF16_GENERATION`` for bf16."""
    if precision is not None:
        if precision not in PRECISIONS:
            raise LabsError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}. Use one of those.")
        return precision
    if autocast_mode not in AUTOCAST:
        raise LabsError(f"autocast={autocast_mode!r} is not one of {', '.join(AUTOCAST)}. Use one of those.")
    return BF16_GENERATION if autocast_mode == "bfloat16" else "fp32"


def bf16_copy(model: Module) -> Module:
    """A copy of ``model`` whose floating-point weights and buffers are bf16; ``model`` itself is left as it is."""
    import copy
    import itertools

    import torch

    memo: dict[int, torch.Tensor] = {}  # deepcopy takes these for the originals: no full fp32 copy on the way
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if tensor.is_floating_point() and id(tensor) not in memo:
            cast = tensor.detach().to(torch.bfloat16, copy=True)
            memo[id(tensor)] = (
                torch.nn.Parameter(cast, requires_grad=False) if isinstance(tensor, torch.nn.Parameter) else cast
            )
    return copy.deepcopy(model, memo)


def inference_model(model: Module, precision: str) -> tuple[Module, str]:
    """The model to generate with under ``precision`` (a bf16 copy for ``bf16-weights``) and its autocast mode."""
    import torch

    if precision == "bf16-weights":
        in_bf16 = all(p.dtype == torch.bfloat16 for p in model.parameters() if p.is_floating_point())
        return (model if in_bf16 else bf16_copy(model)), "off"
    return model, "bfloat16" if precision == "bf16-autocast" else "off"
