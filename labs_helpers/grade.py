"""``make grade SUBMISSIONS=<folder>``: grade a folder of submitted notebooks offline, and write a gradebook.

    python -m labs_helpers.grade SUBMISSIONS [--out runs/grade-<stamp>] [--time-limit 600] [--dataset FOLDER]

SUBMISSIONS holds ``<student>/<notebook>.ipynb``, nbgrader's ``<student>/<assignment>/<notebook>.ipynb``,
or flat ``<student>.ipynb`` files. Each notebook runs offline with the instant stand-in (on the kit's
sample data, or ``--dataset``/``LABS_DATASET``), within ``--time-limit`` seconds, and is graded for the
checker cells that ran. The run folder gets ``gradebook.csv`` (student, notebook, exercise, points,
max_points, feedback), ``feedback/<student>/<notebook>.md`` and the executed notebooks; a file that is
not a notebook, or a notebook of another assignment, gets one line in the gradebook.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from pathlib import Path

from .grading import Assignment, Score, execute, identify, load_assignment, prepare, score
from .run_labs import new_labs_folder
from .settings import KIT_ROOT
from .student_edition import assignment_notebooks

COLUMNS = ["student", "notebook", "exercise", "points", "max_points", "feedback"]


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, file) for every file under ``folder``; the student is its first folder, else the file's stem."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts):  # .ipynb_checkpoints, .DS_Store
            continue
        found.append((parts[0] if len(parts) > 1 else path.stem, path))
    return found


def _read(path: Path):
    """The notebook at ``path``, or a sentence saying why it is not one."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4), ""
    except Exception as error:  # not JSON, not a notebook, not text: all one gradebook line
        return None, f"not a notebook ({type(error).__name__}); submit the .ipynb file saved from Jupyter."


def _assignment(path: Path, notebook, assignments: dict[str, Assignment]) -> tuple[Assignment | None, str]:
    """The assignment a submission is graded against, or why it cannot be graded."""
    named = next((assignments[p] for p in (path.stem, path.parent.name) if p in assignments), None)
    holds = identify(notebook, assignments)
    if holds is None:
        expected = f"assignment {named.name}" if named else f"any of {', '.join(assignments)}"
        return None, f"from another assignment: it holds none of the checker cells of {expected}."
    if named is not None and named is not holds:
        return None, f"from another assignment: it is {holds.name}, submitted as {named.name}; resubmit the right one."
    return holds, ""


def grade_one(path: Path, notebook, assignment: Assignment, folder: Path, options) -> tuple[list[Score], str]:
    """Run one submission in ``folder`` and score it; return the scores and why it stopped early ('' if it did not)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LABS_PROFILE": "offline", "LABS_STANDIN": "instant", "LABS_RUN_DIR": str(folder / "run")}
    if options.dataset:
        env["LABS_DATASET"] = options.dataset
    prepare(notebook, assignment)
    stopped = execute(notebook, folder, env, options.time_limit)
    nbformat.write(notebook, folder / path.name)
    return score(notebook, assignment, stopped), stopped


def feedback_text(student: str, name: str, scores: list[Score], note: str) -> str:
    """One submission's feedback file, in Markdown."""
    got, total = sum(s.points for s in scores), sum(s.max_points for s in scores)
    lines = [f"# {name}: feedback for {student}", "", f"Score: {got:g} / {total:g}", ""]
    if note:
        lines += [f"Note: {note}", ""]
    for entry in scores:
        lines += [f"## Exercise {entry.exercise}: {entry.points:g} / {entry.max_points:g}", "", "```"]
        lines += [entry.feedback, "```", ""]
    return "\n".join(lines)


def _grade_all(found: list[tuple[str, Path]], assignments: dict[str, Assignment], out: Path, options) -> int:
    """Grade every submission, appending to the gradebook as it goes; return how many could not be graded."""
    rejected = 0
    with open(out / "gradebook.csv", "w", newline="") as handle:
        book = csv.writer(handle)
        book.writerow(COLUMNS)
        for student, path in found:
            start = time.perf_counter()
            notebook, problem = _read(path)
            assignment, problem = (None, problem) if notebook is None else _assignment(path, notebook, assignments)
            if assignment is None:
                rejected += 1
                book.writerow([student, path.name, "", 0, "", problem])
                scores, note = [], problem
            else:
                work = out / "executed" / student / path.stem
                scores, note = grade_one(path, notebook, assignment, work, options)
                book.writerows(
                    [student, path.name, s.exercise, f"{s.points:g}", f"{s.max_points:g}", s.feedback] for s in scores
                )
            handle.flush()
            target = out / "feedback" / student / f"{path.stem}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(feedback_text(student, path.name, scores, note))
            got, total = sum(s.points for s in scores), sum(s.max_points for s in scores)
            print(f"{student:>16} {path.name:<34} {got:g}/{total:g}  {time.perf_counter() - start:.0f} s", flush=True)
    return rejected


def _parser() -> argparse.ArgumentParser:
    """The grader's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="the folder of submitted notebooks")
    parser.add_argument("--out", type=Path, help="the run folder to create (default: runs/grade-<timestamp>)")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds allowed per notebook (default 600)")
    parser.add_argument("--dataset", default=os.environ.get("LABS_DATASET"), help="a DialogSum folder")
    parser.add_argument("--notebooks", type=Path, default=KIT_ROOT / "notebooks", help="the instructor notebooks")
    return parser


def _check(options) -> str:
    """What is wrong with the command line, in one sentence, or ''."""
    if not options.submissions.is_dir():
        return f"{options.submissions} is not a folder: pass the folder that holds the submitted notebooks."
    if not submissions(options.submissions):
        return f"{options.submissions} holds no files: copy the submitted notebooks into it."
    if options.dataset and not Path(options.dataset).is_dir():
        return f"no dataset folder {options.dataset}: pass a DialogSum folder, or none for the kit's sample."
    if options.out is not None and options.out.exists() and any(options.out.iterdir()):
        return f"{options.out} already holds files: pass a new --out folder (nothing there is overwritten)."
    if options.time_limit <= 0:
        return f"--time-limit {options.time_limit:g}: give the seconds a notebook may run, e.g. 600."
    return ""


def main(argv: list[str] | None = None) -> int:
    """Grade the submissions, write the gradebook and feedback files, return the exit status."""
    options = _parser().parse_args(argv)
    problem = _check(options)
    if problem:
        print(f"make grade: {problem}", file=sys.stderr)
        return 2
    options.dataset = str(Path(options.dataset).resolve()) if options.dataset else None
    assignments = {path.stem: load_assignment(path) for path in assignment_notebooks(options.notebooks)}
    if options.out is None:
        out = new_labs_folder(KIT_ROOT / "runs", dt.datetime.now().strftime("grade-%Y%m%d-%H%M%S"))
    else:
        out = options.out
        out.mkdir(parents=True, exist_ok=True)
    rejected = _grade_all(submissions(options.submissions), assignments, out, options)
    print(
        f"\nGradebook: {out / 'gradebook.csv'} ({rejected} files could not be graded); feedback in {out / 'feedback'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
