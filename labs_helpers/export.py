"""What a trained model costs to keep and ship: sizes on disk, and an int8 copy for CPU inference."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def size_on_disk(path: str | Path) -> int:
    """Bytes taken by a file, or by all files under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def weights_size(folder: str | Path) -> int:
    """Bytes of the weight files under a folder (safetensors, .bin), without its tokenizer and config files."""
    files = [p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin")]
    return sum(p.stat().st_size for p in files)


def format_bytes(n: float) -> str:
    """A byte count as a short human-readable string (KB, MB, GB; powers of 1000)."""
    for unit in ("B", "KB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy of ``model`` with every ``nn.Linear`` dynamically quantized to int8 weights."""
    import copy
    import warnings

    import torch

    cpu_copy = copy.deepcopy(model).to("cpu", dtype=torch.float32).eval()
    with warnings.catch_warnings():
        # torch 2.13 deprecates torch.ao.quantization and its quantized tensors in favour of torchao
        # (pytorch issue 184982): warnings on stderr in notebook 04 that are not the learner's to fix.
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(cpu_copy, {torch.nn.Linear}, dtype=torch.qint8)


def state_dict_bytes(model: torch.nn.Module, path: str | Path | None = None) -> int:
    """Size of ``torch.save(model.state_dict())``; written to ``path`` when given, else measured in memory."""
    import torch

    if path is None:
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        return buffer.tell()
    torch.save(model.state_dict(), path)
    return Path(path).stat().st_size
