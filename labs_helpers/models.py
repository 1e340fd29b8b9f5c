"""Which model does this run load? The Hub's (or a local folder), or one of the kit's offline stand-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .standin.instant import ensure_instant
from .standin.pretrain import ensure_pretrained

if TYPE_CHECKING:
    from datasets import DatasetDict

    from .settings import Settings


def resolve_model(settings: Settings, dataset: DatasetDict) -> str:
    """What to pass to ``from_pretrained``: the model id or folder, or the stand-in's folder (built if missing)."""
    if settings.standin == "pretrained":
        return str(ensure_pretrained(dataset, settings.cache_dir, settings.seed))
    if settings.standin == "instant":
        return str(ensure_instant(dataset, settings.cache_dir, settings.seed))
    return settings.model
