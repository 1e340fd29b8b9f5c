"""The kit as an nbgrader course: a course folder with the notebooks in ``source/``, and the kit's stubs for nbgrader.

    python -m labs_helpers.instructor.nbgrader_course COURSE [NOTEBOOK ...]

writes ``COURSE/nbgrader_config.py`` and ``COURSE/source/<notebook>/<notebook>.ipynb`` (one assignment
per notebook); files already there are left as they are. From ``COURSE``, ``nbgrader generate_assignment``
then releases the same student edition as ``make student`` (its ``KitClearSolutions`` stubs raise with
each exercise's hint), and ``nbgrader autograde`` runs the checker cells, which carry the points.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from nbgrader.preprocessors import ClearSolutions

from .student_edition import WHOLE_CELL_STUB, assignment_notebooks, stub_source

CONFIG = """\
# nbgrader settings for the labs kit's course (written by python -m labs_helpers.instructor.nbgrader_course).
from labs_helpers.instructor.nbgrader_course import configure

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.root = {root!r}
configure(c)
"""


class KitClearSolutions(ClearSolutions):
    """nbgrader's ClearSolutions with the kit's stubs: a solution region raises with its exercise's hint."""

    def _replace_solution_region(self, cell, language):  # noqa: ANN001 (nbgrader's signature)
        if cell.cell_type != "code" or "BEGIN SOLUTION" not in cell.source:
            return super()._replace_solution_region(cell, language)
        cell.source = stub_source(cell.source, f"cell {cell.metadata.nbgrader.get('grade_id')}")
        return True


def configure(config) -> None:  # noqa: ANN001 (a traitlets Config)
    """Set an nbgrader config to the kit's stubs and to time limits that fit the offline stand-in."""
    from nbgrader.converters import GenerateAssignment

    default = GenerateAssignment.class_traits()["preprocessors"].default()
    config.GenerateAssignment.preprocessors = [KitClearSolutions if p is ClearSolutions else p for p in default]
    config.ClearSolutions.code_stub = {"python": WHOLE_CELL_STUB}
    config.Execute.timeout = 300  # seconds per cell: a stuck submission is stopped, the rest still graded
    config.Execute.interrupt_on_timeout = True


def write_course(root: Path, notebooks: list[Path]) -> list[Path]:
    """Lay out ``root`` as an nbgrader course for ``notebooks``; return the files written (none is overwritten)."""
    root = root.resolve()
    wanted = {root / "nbgrader_config.py": None}
    wanted.update({root / "source" / path.stem / path.name: path for path in notebooks})
    written = []
    for target, origin in wanted.items():
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin is None:
            target.write_text(CONFIG.format(root=str(root)))
        else:
            shutil.copyfile(origin, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point for ``make course``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("course", type=Path, help="the course folder (created if missing)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks 01-06")
    args = parser.parse_args(argv)
    paths = args.notebooks or assignment_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"make course: no notebook {', '.join(missing)}; name notebooks from notebooks/.", file=sys.stderr)
        return 2
    written = write_course(args.course, paths)
    print(f"nbgrader course in {args.course.resolve()}: {len(written)} files written, the others were there already.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
