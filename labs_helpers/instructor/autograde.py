"""Grading one submitted notebook: its cells run in its sandbox, its exercises are checked by the grader.

An assignment is one of the kit's notebooks; its autograded cells (``nbgrader.grade``) carry the points.
The submission's own cells run in order in a sandboxed kernel (every cell, even after an error, as
nbgrader does). When the run reaches a checker cell, the grader runs that exercise's checker itself
(``trusted_checks``), calling the learner's answer in the kernel, and writes the verdict into the cell;
the checker cell's code never runs in the kernel.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from pathlib import Path
from typing import Any

from ..exercises import HINTS
from .kernel import Kernel, Stopped, started
from .sandbox import Sandbox
from .student_edition import grading
from .trusted_checks import CHECKS, Kit, TrustedCheck, library_uses, review_note


@dataclasses.dataclass
class Check:
    """One autograded cell of an assignment: its nbgrader id, exercise, points and the instructor's cell."""

    grade_id: str
    exercise: str
    points: float
    cell: Any


@dataclasses.dataclass
class Assignment:
    """One of the kit's notebooks as an assignment: its name, its checks and its cells' sources."""

    name: str
    checks: list[Check]
    sources: frozenset[str] = frozenset()

    @property
    def max_points(self) -> float:
        """The points a fully solved submission scores."""
        return sum(check.points for check in self.checks)


@dataclasses.dataclass
class Score:
    """What one exercise of one submission scored, the checker's feedback, and a note for review ('' if none)."""

    exercise: str
    points: float
    max_points: float
    feedback: str
    review: str = ""


def load_assignment(path: Path) -> Assignment:
    """The assignment that the instructor notebook ``path`` defines."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    checks = []
    for cell in notebook.cells:
        marks = grading(cell)
        if marks.get("grade"):
            exercise = marks["grade_id"].removeprefix("check_").replace("_", ".")
            checks.append(Check(marks["grade_id"], exercise, float(marks.get("points", 0)), cell))
    return Assignment(path.stem, checks, frozenset(cell.source for cell in notebook.cells))


def prepare(notebook, assignment: Assignment) -> None:
    """Put back the instructor's checker cells and clear the outputs the learner saved."""
    instructor = {check.grade_id: check.cell for check in assignment.checks}
    for index, cell in enumerate(notebook.cells):
        original = instructor.get(grading(cell).get("grade_id"))
        if original is not None:
            notebook.cells[index] = cell = copy.deepcopy(original)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


@dataclasses.dataclass
class Grading:
    """What grading one submission needs besides the notebook: the sandbox, trusted inputs and the time."""

    sandbox: Sandbox
    kit: Kit
    readable: list[Path]
    env: dict[str, str]
    time_limit: float


def grade_notebook(notebook, assignment: Assignment, workdir: Path, how: Grading) -> tuple[list[Score], str]:
    """Run the submission in its sandbox and check each exercise; return the scores and a note on how it ran."""
    prepare(notebook, assignment)
    checks = {check.grade_id: check for check in assignment.checks}
    verdicts: dict[str, Score] = {}
    stopped, cut = "", False
    try:
        with started(notebook, how.sandbox, workdir, how.readable, how.env, how.time_limit) as kernel:
            try:
                for index, cell in enumerate(list(notebook.cells)):
                    check = checks.get(grading(cell).get("grade_id"))
                    if check is not None:
                        verdicts[check.grade_id] = _verdict(kernel, check, index, notebook, assignment, how.kit)
                        cell.outputs = [_shown(verdicts[check.grade_id])]
                    elif cell.cell_type == "code":
                        kernel.run_cell(cell, index)
            finally:
                stopped, cut = kernel.stopped, kernel.client.output_cut
    except Stopped:
        pass
    except RuntimeError as error:  # jupyter_client: the kernel died before it answered (it could not start)
        stopped = f"the kernel did not start ({error})"
    for grade_id, check in checks.items():
        if grade_id not in verdicts:
            present = any(grading(cell).get("grade_id") == grade_id for cell in notebook.cells)
            why = f"not run: {stopped or 'the notebook stopped before it'}." if present else _DELETED
            verdicts[grade_id] = _failed(check, why)
    note = "; ".join(filter(None, [stopped, cut and f"its outputs were cut at {how.sandbox.limits.output_mb:g} MB"]))
    return [verdicts[check.grade_id] for check in assignment.checks], note


_DELETED = "the checker cell was deleted: copy it back from the released notebook."


def _verdict(kernel: Kernel, check: Check, index: int, notebook, assignment: Assignment, kit: Kit) -> Score:
    """Run the instructor's checker for ``check`` here, calling the learner's answer in the kernel."""
    trusted = CHECKS[check.grade_id]
    try:
        feedback = _run(trusted, kernel, index, kit)
    except Stopped:
        raise
    except NotImplementedError as error:  # the stub of an unsolved exercise
        return _failed(check, f"NotImplementedError: {error}")
    except Exception as error:  # the answer is missing (NameError) or could not be called
        return _failed(check, f"{type(error).__name__}: {error}")
    if not feedback.passed:
        return _failed(check, str(feedback))
    sources = _learner_sources(notebook, assignment, check)
    return Score(check.exercise, check.points, check.points, str(feedback), review_note(library_uses(sources, trusted)))


def _run(trusted: TrustedCheck, kernel: Kernel, index: int, kit: Kit):
    """The checker's feedback, with the learner's answer fetched from (or called in) the kernel."""
    args, kwargs, refs = trusted.inputs(kit)
    if "seed" in inspect.signature(trusted.check).parameters:  # cases no submission could have seen
        kwargs = {**kwargs, "seed": kit.checker_seed}
    if trusted.value:
        return trusted.check(kernel.call(trusted.answer, (), refs, index, value=True), *args, **kwargs)

    def answer(*call_args: Any) -> Any:
        return kernel.call(trusted.answer, call_args, refs, index)

    return trusted.check(answer, *args, **kwargs)


def _learner_sources(notebook, assignment: Assignment, check: Check) -> list[str]:
    """The exercise's answer cell and every cell the learner added: where a library shortcut would be."""
    answer_id = check.grade_id.replace("check_", "answer_", 1)
    return [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
        and (
            grading(cell).get("grade_id") == answer_id or (not grading(cell) and cell.source not in assignment.sources)
        )
    ]


def _failed(check: Check, said: str) -> Score:
    """Zero points, with what went wrong and the exercise's hint."""
    hint = HINTS.get(check.exercise, "")
    if hint and hint not in said:
        said += f"\n  Hint: {hint}"
    return Score(check.exercise, 0.0, check.points, said)


def _shown(score: Score):
    """The verdict as the checker cell's output in the executed notebook (an error when it failed)."""
    from nbformat.v4 import new_output

    if score.points or not score.max_points:
        return new_output("stream", name="stdout", text=score.feedback + "\n")
    return new_output("error", ename="AssertionError", evalue=score.feedback, traceback=[])
