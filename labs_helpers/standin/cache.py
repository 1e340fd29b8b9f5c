"""Where built stand-ins live: cache keys, the completion marker, atomic publishing, one build at a time."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
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
    """True when ``folder`` holds a finished, undamaged stand-in (the marker is written last)."""
    return (Path(folder) / COMPLETE_MARKER).is_file() and damage(folder) is None


def usable(folder: Path) -> bool:
    """``is_complete``, and when a finished stand-in is damaged, say so on stderr: the caller rebuilds it."""
    if not (Path(folder) / COMPLETE_MARKER).is_file():
        return False
    problem = damage(folder)
    if problem:
        print(f"The cached stand-in in {folder} is damaged ({problem}); rebuilding it.", file=sys.stderr, flush=True)
    return problem is None


def file_digests(folder: Path) -> dict[str, str]:
    """A SHA-256 of every file of a stand-in (the marker aside), recorded in the marker and checked on load."""
    folder = Path(folder)
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != COMPLETE_MARKER
    }


def damage(folder: Path) -> str | None:
    """What is wrong with a finished stand-in's files (a missing, changed or truncated file), or None."""
    folder = Path(folder)
    try:
        recorded = json.loads((folder / COMPLETE_MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return f"{COMPLETE_MARKER} is unreadable"
    if recorded is None:  # a marker from before checksums: check that the files are whole
        return _truncated(folder)
    for name, digest in recorded.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return f"{name} is not the file that was built"
    return None


def _truncated(folder: Path) -> str | None:
    """A check without checksums: the weights' header matches their size, the tokenizer is valid JSON."""
    weights = folder / "model.safetensors"
    try:
        with open(weights, "rb") as stream:
            header_size = int.from_bytes(stream.read(8), "little")
            header = json.loads(stream.read(header_size))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "model.safetensors cannot be read"
    if weights.stat().st_size != 8 + header_size + end:
        return "model.safetensors is truncated"
    try:
        json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "tokenizer.json cannot be read"
    return None


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
        marker = tmp / COMPLETE_MARKER
        if marker.is_file():  # record every file's checksum, so that a damaged cache is noticed on load
            marker.write_text(json.dumps(json.loads(marker.read_text()) | {"files": file_digests(tmp)}, indent=1))
        if is_complete(final):  # someone else finished first: keep theirs
            return final
        if final.exists():  # a half-written folder from an interrupted build
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
