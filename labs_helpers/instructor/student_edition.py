"""``make student``: the student edition of the notebooks, the same notebooks ``nbgrader generate_assignment`` releases.

    python -m labs_helpers.instructor.student_edition [--out build/student] [NOTEBOOK ...]

The notebooks use nbgrader's markup. An answer cell has ``nbgrader.solution`` set; inside it, the
lines between ``### BEGIN SOLUTION <exercise>`` and ``### END SOLUTION`` become one
``raise NotImplementedError(...)`` with the exercise's hint, at the same indentation, so a function
keeps its signature and docstring; an answer cell without markers is replaced whole. Checker cells
(``nbgrader.grade``) and read-only cells (``nbgrader.locked``) are locked against edits, as nbgrader
does. The source notebooks stay the instructor edition; the student edition has no outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from ..errors import LabsError
from ..exercises import HINTS
from ..settings import KIT_ROOT

_BEGIN = re.compile(r"^(?P<indent>\s*)#+ BEGIN SOLUTION\s+(?P<exercise>[\w.]+)\s*$")
_END = re.compile(r"^\s*#+ END SOLUTION\s*$")
WHOLE_CELL_STUB = "raise NotImplementedError('This exercise is yours to solve: see the text above.')"


def stub_source(source: str, where: str = "cell") -> str:
    """The cell's source with each solution region replaced by a NotImplementedError stub."""
    lines, out, inside = source.splitlines(), [], None
    for line in lines:
        begin = _BEGIN.match(line)
        if begin:
            if inside:
                raise LabsError(f"{where}: 'BEGIN SOLUTION' inside another solution; close it with '### END SOLUTION'.")
            inside = begin
            exercise = begin["exercise"]
            hint = HINTS.get(exercise, "see the exercise text above.")
            out.append(
                f"{begin['indent']}raise NotImplementedError({f'Exercise {exercise}: your turn. Hint: {hint}'!r})"
            )
        elif _END.match(line):
            if not inside:
                raise LabsError(f"{where}: '### END SOLUTION' without a '### BEGIN SOLUTION <exercise>' before it.")
            inside = None
        elif not inside:
            if "BEGIN SOLUTION" in line:
                raise LabsError(f"{where}: write '### BEGIN SOLUTION <exercise>' alone on its line, e.g. 03.1.")
            out.append(line)
    if inside:
        raise LabsError(f"{where}: '### BEGIN SOLUTION {inside['exercise']}' is never closed with '### END SOLUTION'.")
    return WHOLE_CELL_STUB if out == lines else "\n".join(out)


def assignment_notebooks(folder: Path = KIT_ROOT / "notebooks") -> list[Path]:
    """The notebooks that hold exercises (01-06), each one assignment for ``make grade`` and nbgrader."""
    return sorted(folder.glob("0[1-6]*.ipynb"))


def grading(cell) -> dict:
    """The cell's nbgrader metadata (empty for a lesson cell)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def lock(cell) -> None:
    """Mark the cell undeletable, and uneditable unless it holds an answer (nbgrader's LockCells)."""
    marks = grading(cell)
    if marks.get("solution"):
        cell.metadata["deletable"] = False
    elif marks.get("grade") or marks.get("locked"):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def student_notebook(path: Path):
    """The student edition of one notebook (a new nbformat object; the source is untouched)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells, start=1):
        lock(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if grading(cell).get("solution"):
                cell.source = stub_source(cell.source, f"{path.name}, cell {index}")
        if any(grading(cell).get(key) for key in ("solution", "grade", "locked")):
            _checksum(cell)
    return notebook


def _checksum(cell) -> None:
    """Record the cell's checksum as nbgrader's release does, so autograde can tell edited cells (needs nbgrader)."""
    try:
        from nbgrader.utils import compute_checksum
    except ImportError:  # the edition is the same without them; only nbgrader reads checksums
        return
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    cell.metadata.nbgrader["cell_type"] = cell.cell_type


MANIFEST = ".student_edition.json"  # in the output folder: the digest of each notebook as this module wrote it


def build(out_dir: Path, notebooks: list[Path]) -> list[Path]:
    """Write the student edition of ``notebooks`` into ``out_dir``; return the written paths.

    A notebook there that changed since this module wrote it (a learner's answers) is never replaced:
    it is kept, and named on stderr with how to get the new edition.
    """
    import nbformat

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out_dir)
    written = []
    for path in notebooks:
        target = out_dir / path.name
        text = nbformat.writes(student_notebook(path))
        text += "" if text.endswith("\n") else "\n"
        if target.exists() and _digest(target.read_bytes()) not in (manifest.get(path.name), _digest(text.encode())):
            print(
                f"make student: kept {target}, which changed after make student wrote it (a learner's answers?); "
                "to get the new edition of it, move that file away and run make student again.",
                file=sys.stderr,
            )
            continue
        target.write_text(text, encoding="utf-8")
        manifest[path.name] = _digest(text.encode())
        written.append(target)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return written


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(out_dir: Path) -> dict[str, str]:
    """What this module wrote into ``out_dir`` before (empty when nothing, or unreadable: then nothing is trusted)."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point for ``make student``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=KIT_ROOT / "build" / "student")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((KIT_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    try:
        written = build(args.out, paths)
    except LabsError as error:
        print(f"make student: {error}", file=sys.stderr)
        return 2
    kept = len(paths) - len(written)
    print(f"Student edition: {len(written)} notebooks in {args.out}" + (f" ({kept} kept, see above)" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
