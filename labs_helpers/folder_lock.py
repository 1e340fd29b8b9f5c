"""One process per run folder: a lock file inside it, held by the operating system, that dies with its owner.

The lock is ``flock`` (``msvcrt.locking`` on Windows) on ``<folder>/.run.lock``: when the process
that holds it ends, however it ends (Ctrl-C, SIGKILL, a lost machine), the lock is gone, so a stale
lock never blocks a later run. The file itself stays, with the owner's process id for messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from .errors import LabsError

LOCK = ".run.lock"
_held: dict[Path, IO[str]] = {}  # folders this process owns, with the open lock file that holds the lock


def _try_lock(handle: IO[str]) -> bool:
    """Lock ``handle``'s file for this process without waiting; False when another process holds it."""
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
    except OSError:
        return False
    return True


def _owner(handle: IO[str]) -> str:
    """The process id the owner wrote into the lock file ('another process' when unreadable)."""
    try:
        handle.seek(0)
        text = handle.read().strip()
    except OSError:
        text = ""
    return f"process {text}" if text.isdigit() else "another process"


def claim(folder: str | Path) -> Path:
    """Own ``folder`` for this process (again, if it already does); LabsError when another process owns it."""
    folder = Path(folder).resolve()
    if folder in _held:
        return folder
    try:
        handle = open(folder / LOCK, "a+")  # noqa: SIM115 - held open until release() or the process ends
    except OSError as error:
        raise LabsError(
            f"Cannot write to {folder} ({error.strerror or error}). Choose a folder you can write to with --output-dir."
        ) from error
    if not _try_lock(handle):
        owner = _owner(handle)
        handle.close()
        raise LabsError(
            f"{folder} is in use by another run ({owner}): two runs never write into one folder. "
            "Wait for that run to end, or choose another --output-dir (or leave it out for a fresh one)."
        )
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _held[folder] = handle
    return folder


def owned_elsewhere(folder: str | Path) -> bool:
    """True when another process holds ``folder``'s lock now (a folder without a lock file is owned by nobody)."""
    folder = Path(folder).resolve()
    if folder in _held or not (folder / LOCK).is_file():
        return False
    try:
        with open(folder / LOCK) as handle:
            free = _try_lock(handle)  # closing the file drops the probe's lock
    except OSError:
        return False
    return not free


def release(folder: str | Path) -> None:
    """Give up this process's ownership of ``folder`` (nothing when it does not own it)."""
    handle = _held.pop(Path(folder).resolve(), None)
    if handle is not None:
        handle.close()  # closing the file releases the lock


def holds_files(folder: str | Path) -> bool:
    """True when ``folder`` holds anything besides its lock file."""
    folder = Path(folder)
    return folder.is_dir() and any(p.name != LOCK for p in folder.iterdir())


def discard_if_empty(folder: str | Path) -> None:
    """Remove ``folder`` when it holds nothing but its lock (a run stopped before it wrote anything)."""
    folder = Path(folder)
    if folder.is_dir() and not holds_files(folder):
        release(folder)
        (folder / LOCK).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:  # someone wrote there after all: keep it
            pass
