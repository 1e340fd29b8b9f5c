"""Where built stand-ins live: cache keys, the completion marker, atomic publishing, one build at a time."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import LabsError
from .architecture import MODEL_CONFIG
from .tokenizer import VOCAB_SIZE

STANDIN_VERSION = 2  # 2: embedding / LM head initialised at d_model**-0.5 (logits start near N(0, 1))
COMPLETE_MARKER = "STANDIN_COMPLETE.json"


def fingerprint(texts: Iterable[str]) -> str:
    """A SHA-256 of the texts, so that the cache key changes when the data does."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def cache_key(kind: str, data_fingerprint: str, seed: int, extra: dict | None = None) -> str:
    """A short hash of everything the stand-in is built from."""
    payload = dict(
        version=STANDIN_VERSION,
        kind=kind,
        data=data_fingerprint,
        seed=seed,
        vocab=VOCAB_SIZE,
        config=MODEL_CONFIG,
        extra=extra or {},
    )
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished stand-in (the marker is written last)."""
    return (Path(folder) / COMPLETE_MARKER).is_file()


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Turn a failure to write the stand-in into one message that says where to build it instead."""
    try:
        yield
    except OSError as error:
        raise LabsError(
            f"Could not write the stand-in model to {folder} ({error.strerror or error}). "
            "Set LABS_CACHE to a folder you can write to."
        ) from error


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold ``<folder>.lock`` while building: a second process waits, then finds the stand-in built."""
    from filelock import FileLock

    folder = Path(folder)
    with writing(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            yield


def write_atomically(final: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_folder)`` and move the result to ``final`` only when it finished."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".partial-", dir=final.parent))
    try:
        write(tmp)
        if is_complete(final):  # someone else finished first: keep theirs
            return final
        if final.exists():  # a half-written folder from an interrupted build
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
