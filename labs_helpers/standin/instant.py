"""The instant stand-in: FLAN-T5's layout in miniature with random weights, built in seconds (tests, CI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .architecture import random_model
from .cache import COMPLETE_MARKER, cache_key, fingerprint, usable, write_atomically, writing
from .card import instant_card
from .tokenizer import train_tokenizer

if TYPE_CHECKING:
    from datasets import DatasetDict


def training_texts(dataset: DatasetDict) -> list[str]:
    """The texts the instant stand-in's tokenizer learns from: train dialogues and summaries."""
    train = dataset["train"]
    return list(train["dialogue"]) + list(train["summary"])


def instant_folder(dataset: DatasetDict, cache_dir: Path, seed: int) -> Path:
    """Where the instant stand-in for this dataset and seed lives in the cache (built or not)."""
    key = cache_key("instant", fingerprint(training_texts(dataset)), seed)
    return Path(cache_dir) / f"standin-instant-{key}"


def build_instant(texts: Sequence[str], folder: Path, seed: int) -> Path:
    """Build the random-weight stand-in into ``folder`` (atomically: never loaded half-written)."""

    def write(tmp: Path) -> None:
        tokenizer = train_tokenizer(texts)
        model = random_model(len(tokenizer), seed)
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        (tmp / "README.md").write_text(instant_card(len(texts), seed))
        (tmp / COMPLETE_MARKER).write_text(json.dumps({"kind": "instant", "seed": seed, "texts": len(texts)}))

    folder = Path(folder)
    with writing(folder):
        write_atomically(folder, write)
    return folder


def ensure_instant(dataset: DatasetDict, cache_dir: Path, seed: int) -> Path:
    """The instant stand-in's folder, built (seconds) if it is not in the cache yet."""
    folder = instant_folder(dataset, cache_dir, seed)
    if usable(folder):
        return folder
    return build_instant(training_texts(dataset), folder, seed)
