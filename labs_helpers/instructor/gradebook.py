"""The grader's own files: the gradebook (written once, whole), the feedback and the executed notebooks.

Only the grading process writes here; no submission's kernel can see this folder. The gradebook is
kept in memory and written atomically at the end, so a file named ``gradebook.csv`` is always a
whole run; a run that was stopped writes ``gradebook.incomplete.csv`` instead. A lock that dies
with its owner keeps a second grader out of the same folder.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import LabsError

if TYPE_CHECKING:
    from .autograde import Score
    from .submissions import Submission

COLUMNS = ["student", "notebook", "exercise", "points", "max_points", "feedback", "review", "submission"]
LOCK = ".grading.lock"


class Book:
    """The gradebook's rows, in memory until the run ends."""

    def __init__(self, out: Path) -> None:
        self.out, self.rows, self.graded, self.rejected = out, [], 0, 0

    @property
    def reviews(self) -> int:
        """How many passing answers are flagged for review."""
        return sum(bool(row[6]) for row in self.rows)

    def add(self, submission: Submission, scores: list[Score], note: str) -> None:
        """One submission's rows (one row saying why, when it could not be graded)."""
        where = f"{submission.student}/{submission.label}"
        self.graded += 1
        if not scores:
            self.rejected += 1
            self.rows.append([submission.student, submission.name, "", 0, "", note, "", where])
        for s in scores:
            self.rows.append(
                [submission.student, submission.name, s.exercise, f"{s.points:g}", f"{s.max_points:g}", s.feedback]
                + [s.review, where]
            )

    def save(self, complete: bool) -> Path:
        """Write the gradebook atomically: ``gradebook.csv``, or ``gradebook.incomplete.csv`` for a stopped run."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(self.rows)
        path = self.out / ("gradebook.csv" if complete else "gradebook.incomplete.csv")
        atomic_write(path, text.getvalue())
        return path


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


@contextlib.contextmanager
def owned(out: Path) -> Iterator[Book]:
    """A gradebook for ``out``, whose lock refuses a second grader; the lock goes when the run ends."""
    import fcntl

    handle = open(out / LOCK, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise LabsError(f"another make grade is writing to {out}: wait for it, or pass a new --out folder.") from None
    try:
        yield Book(out)
    finally:
        (out / LOCK).unlink(missing_ok=True)
        handle.close()


def busy(out: Path) -> bool:
    """Whether another grader holds ``out``'s lock right now."""
    import fcntl

    if not (out / LOCK).is_file():
        return False
    with open(out / LOCK) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def feedback_text(submission: Submission, scores: list[Score], note: str) -> str:
    """One submission's feedback file, in Markdown."""
    got, total = sum(s.points for s in scores), sum(s.max_points for s in scores)
    lines = [f"# {submission.name}: feedback for {submission.student}", "", f"Score: {got:g} / {total:g}", ""]
    if note:
        lines += [f"Note: {note}", ""]
    for entry in scores:
        lines += [f"## Exercise {entry.exercise}: {entry.points:g} / {entry.max_points:g}", "", "```"]
        lines += [entry.feedback, "```", ""]
        if entry.review:
            lines += [f"Flagged for your instructor's review: {entry.review.removeprefix('review: ')}", ""]
    return "\n".join(lines)


def write_feedback(out: Path, submission: Submission, scores: list[Score], note: str) -> Path:
    """``feedback/<student>/<label>.md``."""
    path = out / "feedback" / submission.student / f"{submission.label}.md"
    atomic_write(path, feedback_text(submission, scores, note))
    return path


def write_executed(out: Path, submission: Submission, notebook) -> Path:
    """``executed/<student>/<label>/<notebook>``: the notebook as it ran, with the grader's verdicts."""
    import nbformat

    path = out / "executed" / submission.student / submission.label / submission.name
    atomic_write(path, nbformat.writes(notebook))
    return path
