"""The submissions in a folder: who sent each file, a name for it that no other submission shares, what it is."""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .student_edition import grading

if TYPE_CHECKING:
    from .autograde import Assignment


@dataclasses.dataclass(frozen=True)
class Submission:
    """One submitted file: the student (its first folder, else its stem), its path and its unique label."""

    student: str
    path: Path
    label: str  # where its feedback and executed notebook go, under the student's folder

    @property
    def name(self) -> str:
        """The file's name, as the gradebook lists it."""
        return self.path.name


def find(folder: Path) -> list[Submission]:
    """Every file under ``folder`` (hidden ones aside), labelled so that no two share a feedback file."""
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts):  # .ipynb_checkpoints, .DS_Store
            continue
        if path.is_file() or path.is_symlink():
            found.append((parts[0] if len(parts) > 1 else path.stem, path, parts))
    taken = collections.Counter((student, path.stem) for student, path, _ in found)
    return [
        Submission(student, path, path.stem if taken[student, path.stem] == 1 else _middle(parts))
        for student, path, parts in found
    ]


def _middle(parts: tuple[str, ...]) -> str:
    """A label from the folders between the student and the file: alice/a/01.ipynb -> a/01."""
    return "/".join([*parts[1:-1], Path(parts[-1]).stem])


def _read(path: Path) -> tuple[Any, str]:
    """The notebook at ``path``, or a sentence saying why it is not one."""
    import nbformat

    if path.is_symlink():
        return None, "a link, not a file: submit the notebook itself."
    try:
        return nbformat.read(path, as_version=4), ""
    except Exception as error:  # not JSON, not a notebook, not text: all one gradebook line
        return None, f"not a notebook ({type(error).__name__}); submit the .ipynb file saved from Jupyter."


def problem_with(submission: Submission, assignments: dict[str, Assignment]) -> tuple[Any, Assignment | None, str]:
    """The notebook, the assignment it is graded against, or why it cannot be graded."""
    notebook, problem = _read(submission.path)
    if notebook is None:
        return None, None, problem
    path = submission.path
    named = next((assignments[p] for p in (path.stem, path.parent.name) if p in assignments), None)
    holds = _identify(notebook, assignments)
    if holds is None:
        expected = f"assignment {named.name}" if named else f"any of {', '.join(assignments)}"
        return notebook, None, f"from another assignment: it holds none of the checker cells of {expected}."
    if named is not None and named is not holds:
        return (
            notebook,
            None,
            f"from another assignment: it is {holds.name}, submitted as {named.name}; resubmit the right one.",
        )
    return notebook, holds, ""


def _identify(notebook: Any, assignments: dict[str, Assignment]) -> Assignment | None:
    """The assignment whose checker cells the notebook holds (by nbgrader id), or None."""
    ids = {grading(cell).get("grade_id") for cell in notebook.cells} - {None}
    best = max(assignments.values(), key=lambda a: len(ids & {c.grade_id for c in a.checks}), default=None)
    return best if best is not None and ids & {c.grade_id for c in best.checks} else None
