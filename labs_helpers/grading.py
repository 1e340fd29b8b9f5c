"""Grading one submitted notebook the way nbgrader's autograde does: run it, then score its checker cells.

An assignment is one of the kit's notebooks; its autograded cells (``nbgrader.grade``) call the kit's
checkers and carry the points. A submission is run with the instructor's checker cells put back in place
(a learner cannot grade themselves), every cell runs even after an error, and a time limit for the whole
notebook stops one that hangs; each checker cell then scores its points if it ran without an error.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from .exercises import HINTS
from .student_edition import grading


@dataclasses.dataclass
class Check:
    """One autograded cell of an assignment: its nbgrader id, exercise, points and the instructor's cell."""

    grade_id: str
    exercise: str
    points: float
    cell: Any


@dataclasses.dataclass
class Assignment:
    """One of the kit's notebooks as an assignment: its name (the notebook's stem) and its checks."""

    name: str
    checks: list[Check]

    @property
    def max_points(self) -> float:
        """The points a fully solved submission scores."""
        return sum(check.points for check in self.checks)


@dataclasses.dataclass
class Score:
    """What one exercise of one submission scored, and the checker's feedback."""

    exercise: str
    points: float
    max_points: float
    feedback: str


def load_assignment(path: Path) -> Assignment:
    """The assignment that the instructor notebook ``path`` defines."""
    import nbformat

    checks = []
    for cell in nbformat.read(path, as_version=4).cells:
        marks = grading(cell)
        if marks.get("grade"):
            exercise = marks["grade_id"].removeprefix("check_").replace("_", ".")
            checks.append(Check(marks["grade_id"], exercise, float(marks.get("points", 0)), cell))
    return Assignment(path.stem, checks)


def identify(notebook, assignments: dict[str, Assignment]) -> Assignment | None:
    """The assignment whose checker cells the notebook holds (by nbgrader id), or None."""
    ids = {grading(cell).get("grade_id") for cell in notebook.cells} - {None}
    best = max(assignments.values(), key=lambda a: len(ids & {c.grade_id for c in a.checks}), default=None)
    return best if best is not None and ids & {c.grade_id for c in best.checks} else None


def prepare(notebook, assignment: Assignment) -> None:
    """Put back the instructor's checker cells and clear the outputs the learner saved."""
    import copy

    instructor = {check.grade_id: check.cell for check in assignment.checks}
    for index, cell in enumerate(notebook.cells):
        original = instructor.get(grading(cell).get("grade_id"))
        if original is not None:
            notebook.cells[index] = cell = copy.deepcopy(original)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


def execute(notebook, folder: Path, env: dict[str, str], time_limit: float) -> str:
    """Run every cell in ``folder`` within ``time_limit`` seconds; return why it stopped early, or ''."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = NotebookClient(
        notebook,
        timeout=int(time_limit),
        startup_timeout=300,  # a busy machine can take a minute to start a kernel
        allow_errors=True,  # like nbgrader: a cell that raises scores zero, the rest still run
        interrupt_on_timeout=False,  # the time is up: stop here, the kernel is shut down below
        shutdown_kernel="immediate",
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel start-up chatter (TCP notice) on stderr
        resources={"metadata": {"path": str(folder)}},
    )
    deadline = time.monotonic() + time_limit
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            left = deadline - time.monotonic()
            if left <= 0:
                return f"the notebook ran out of its {time_limit:.0f} s before cell {index + 1}"
            client.timeout = max(1, int(left))
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                return f"cell {index + 1} was still running when the notebook's {time_limit:.0f} s were up"
            except DeadKernelError:
                return f"the kernel died in cell {index + 1} (out of memory, or the code ended the process)"
    return ""


def _outcome(cell) -> tuple[bool, str]:
    """Whether a checker cell passed, and what it said (its error, or its printed or shown feedback)."""
    said = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return False, f"{output.get('ename')}: {output.get('evalue')}".strip()
        if output.get("output_type") == "stream":
            said.append(output.get("text", ""))
        elif "data" in output:
            said.append(output["data"].get("text/plain", ""))
    return True, "".join(said).strip() or "passed."


def score(notebook, assignment: Assignment, stopped: str) -> list[Score]:
    """Each exercise's points and feedback, read from the executed notebook's checker cells."""
    cells = {grading(cell).get("grade_id"): cell for cell in notebook.cells}
    scores = []
    for check in assignment.checks:
        cell = cells.get(check.grade_id)
        if cell is None:
            passed, said = False, "the checker cell was deleted: copy it back from the released notebook."
        elif cell.get("execution_count") is None and not cell.get("outputs"):
            passed, said = False, f"not run: {stopped or 'the notebook stopped before it'}."
        else:
            passed, said = _outcome(cell)
        hint = HINTS.get(check.exercise, "")
        if not passed and hint and hint not in said:
            said += f"\n  Hint: {hint}"
        scores.append(Score(check.exercise, check.points if passed else 0.0, check.points, said))
    return scores
