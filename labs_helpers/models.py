"""Which model does this run load? The Hub's (or a local folder), or one of the kit's offline stand-ins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LabsError
from .standin.instant import ensure_instant
from .standin.pretrain import ensure_pretrained

if TYPE_CHECKING:
    from datasets import DatasetDict

    from .settings import Settings

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer_config.json")
_WANTED = "an encoder-decoder (T5-like) model such as google/flan-t5-base"


def resolve_model(settings: Settings, dataset: DatasetDict) -> str:
    """What to pass to ``from_pretrained``: the model id or folder, or the stand-in's folder (built if missing)."""
    if settings.standin == "pretrained":
        return str(ensure_pretrained(dataset, settings.cache_dir, settings.seed))
    if settings.standin == "instant":
        return str(ensure_instant(dataset, settings.cache_dir, settings.seed))
    return check_model(settings.model)


def is_local(model: str) -> bool:
    """True when ``model`` names a folder (it exists, or reads as a path), not a Hub id."""
    text = str(model)
    return Path(text).expanduser().exists() or text.startswith((".", "/", "~")) or text.count("/") > 1


def check_model(model: str, option: str = "LABS_MODEL") -> str:
    """``model`` if it is an encoder-decoder model the kit can load; else one sentence that names the fix."""
    if is_local(model):
        _check_folder(Path(model).expanduser(), f"{option}={model}")
    config = _load_config(model, option)
    if not getattr(config, "is_encoder_decoder", False):
        raise LabsError(
            f"{option}={model} is a decoder-only model ({config.model_type}), but the labs summarize with "
            f"{_WANTED}. Point {option} at one, or unset it."
        )
    return str(model)


def _check_folder(folder: Path, named: str) -> None:
    """A local model folder: it exists and holds a readable config, weights and a tokenizer."""
    fix = "Point it at a folder written by save_pretrained (config.json, weights, tokenizer), or unset it."
    if not folder.exists():
        raise LabsError(f"{named}: no such folder. {fix}")
    if not folder.is_dir():
        raise LabsError(f"{named} is a file, not a folder. {fix}")
    if not (folder / "config.json").is_file():
        raise LabsError(f"{named} has no config.json, so it is not a saved model. {fix}")
    try:
        json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise LabsError(f"{named}: config.json is not readable JSON ({error}). {fix}") from None
    if not any((folder / name).is_file() for name in WEIGHTS):
        raise LabsError(f"{named} has no weights ({' or '.join(WEIGHTS[::2])}). {fix}")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise LabsError(f"{named} has no tokenizer files ({', '.join(TOKENIZER_FILES)}). {fix}")


def _load_config(model: str, option: str):
    """The model's config, from its folder, the Hugging Face cache or the Hub; one sentence when it cannot be had."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model)
    except Exception as error:  # OSError (not found, no network), ValueError (unknown model type), ...
        if is_local(model):
            raise LabsError(
                f"{option}={model}: its config.json is not a model transformers knows ({type(error).__name__}). "
                f"Point {option} at {_WANTED}, or unset it."
            ) from None
        raise LabsError(
            f"{option}={model} is not a folder, and the model is neither in the local Hugging Face cache nor "
            "reachable on the Hub. Check the id and your connection, point it at a saved model folder, "
            "or unset it to use the offline stand-in (LABS_PROFILE=offline)."
        ) from None
