"""What make ui-test finds in a notebook's cells, as the page showed them: no browser needed here.

A finding reads ``<notebook>, cell <index> [In <n>] `<first line>`: <what>``; a note is not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MIN_FIGURE_PX = (200, 100)  # natural width x height of a figure worth the name
MIN_INK = 0.005  # share of pixels that are not near-white: an empty canvas has 0


@dataclass
class NotebookResult:
    """What one notebook's check found: problems (failures), notes, screenshots and timings."""

    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0  # all of it: page, kernel, run, checks, screenshots
    run_seconds: float = 0.0  # from Run All Cells to the kernel idle
    cells_run: int = 0

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def figure_cells(notebook: dict) -> list[int]:
    """Indices of the cells a learner expects a picture from: ``plt.show()`` or the sampling explorer."""
    return [
        i
        for i, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
        and ("plt.show()" in "".join(cell["source"]) or "explorer(" in "".join(cell["source"]))
    ]


def explorer_cells(notebook: dict) -> list[int]:
    """Indices of the cells that draw the sampling explorer."""
    return [
        i
        for i, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and "explorer(" in "".join(cell["source"])
    ]


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    line = (lines[0] if lines else "").strip()
    return line if len(line) <= 60 else line[:57] + "..."


def _cells(cells: list[tuple[int, str]], result: NotebookResult) -> str:
    """``<where> was`` for one cell, ``<notebook>: cells A to B were`` for several: one finding either way."""
    if len(cells) == 1:
        return f"{cells[0][1]}: was"
    return f"{result.name}: cells {cells[0][0]} to {cells[-1][0]} were"


def locate(result: NotebookResult, cell: dict) -> str:
    """``<notebook>, cell <index> [In <n>] `<first line>```: where a finding is."""
    count = f" [In {cell['count']}]" if cell.get("count") else ""
    return f"{result.name}, cell {cell['index']}{count} `{_first_line(cell['source'])}`"


def check_cells(cells: list[dict], notebook: dict, result: NotebookResult, finished: bool = True) -> None:
    """What the learner sees, cell by cell; one finding for a run of cells that never ran, whatever the cause.

    ``finished`` False: the run was stopped (its own finding says so), so the cells it never reached
    and a missing run card are not findings of their own.
    """
    figures = set(figure_cells(notebook))
    first_output = None
    stopped_at, not_run, unreached = None, [], []  # one line each for the cells after an error / never reached
    for cell in cells:
        if cell["type"] != "code":
            continue
        where = locate(result, cell)
        if first_output is None and cell["outputs"]:
            first_output = (cell, cell["renderedText"][0] if cell["renderedText"] else "")
        errors = _check_cell(cell, where, cell["index"] in figures, result)
        if not cell["count"] and not errors:
            (unreached if stopped_at is None else not_run).append((cell["index"], where))
        if errors and stopped_at is None:
            stopped_at = cell["index"]
    if not_run:
        stop = f"Run All stops at the error in cell {stopped_at}"
        result.problems.append(f"{_cells(not_run, result)} not run ({stop})")
    if unreached and finished:
        result.problems.append(f"{_cells(unreached, result)} not run (no execution count)")
    if first_output is None and finished:
        result.problems.append(f"{result.name}: no cell has an output, so no run card")
    elif not first_output[1].lstrip().startswith("Run card"):
        result.problems.append(
            f"{locate(result, first_output[0])}: the first output is not the run card "
            f"(it starts {first_output[1].strip()[:60]!r})"
        )


def _check_cell(cell: dict, where: str, is_figure: bool, result: NotebookResult) -> bool:
    """Errors, broken widgets, stderr and (in a figure cell) a missing figure; True if the cell shows an error."""
    errors = [o for o in cell["outputs"] if o["type"] == "error"]
    for error in errors:
        result.problems.append(f"{where}: shows an error: {error['ename']}: {error['evalue']}")
    if not errors and cell["domErrors"]:
        result.problems.append(f"{where}: shows an error output")
    for text in cell["renderedText"]:
        if "Error displaying widget" in text or "Failed to display" in text:
            result.problems.append(f"{where}: a widget did not display: {text.strip()[:120]}")
    stderr = [o["text"].strip() for o in cell["outputs"] if o["name"] == "stderr" and o["text"].strip()]
    if stderr:
        result.notes.append(f"{where}: writes to stderr: {stderr[0][:120]!r}")
    if is_figure and not errors and cell["count"]:
        good = [
            im
            for im in cell["images"]
            if im["complete"] and im["w"] >= MIN_FIGURE_PX[0] and im["h"] >= MIN_FIGURE_PX[1] and im["ink"] >= MIN_INK
        ]
        if not good:
            seen = ", ".join(f"{im['w']}x{im['h']} px, {im['ink']:.1%} drawn" for im in cell["images"])
            result.problems.append(
                f"{where}: is a figure cell but shows no figure of at least "
                f"{MIN_FIGURE_PX[0]}x{MIN_FIGURE_PX[1]} px" + (f" (images: {seen})" if seen else " (no image at all)")
            )
    return bool(errors)
