"""``make grade SUBMISSIONS=<folder>``: grade a folder of submitted notebooks offline, and write a gradebook.

    python -m labs_helpers.instructor.grade SUBMISSIONS [--out runs/grade-<stamp>] [--time-limit 600]
        [--dataset FOLDER] [--sandbox auto|bubblewrap|copy] [--memory-gb 8] [--processes 128] ...

SUBMISSIONS holds ``<student>/<notebook>.ipynb``, nbgrader's ``<student>/<assignment>/<notebook>.ipynb``,
or flat ``<student>.ipynb`` files. Each notebook runs offline with the instant stand-in, in its own
sandbox (``sandbox``: what each kind keeps apart is printed at the start), within the time and
resource limits; its exercises are checked by this process, never in the notebook's kernel. The run
folder gets ``gradebook.csv`` (written once, at the end; ``gradebook.incomplete.csv`` if the run was
stopped), ``feedback/<student>/<notebook>.md`` and the executed notebooks; a file that is not a
notebook, or a notebook of another assignment, gets one line in the gradebook.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from ..errors import LabsError
from ..runs import new_run_folder
from ..settings import KIT_ROOT, make_settings
from ..threads import SPIN, WAIT_POLICY, apply_thread_env, with_thread_env
from . import gradebook
from .autograde import Grading, grade_notebook, load_assignment
from .sandbox import Limits, Sandbox, become_subreaper, choose, kill_descendants
from .student_edition import assignment_notebooks
from .submissions import Submission, find, problem_with
from .trusted_checks import Kit

# What a kernel inherits from the grader's environment besides the LABS_* settings: quiet libraries.
QUIET = ("TQDM_DISABLE", "HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY")
QUIET += ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "TOKENIZERS_PARALLELISM", "PYTHONWARNINGS", "MPLBACKEND")


def _parser() -> argparse.ArgumentParser:
    """The grader's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="the folder of submitted notebooks")
    parser.add_argument("--out", type=Path, help="the run folder to create (default: runs/grade-<timestamp>)")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds allowed per notebook (default 600)")
    parser.add_argument("--dataset", default=os.environ.get("LABS_DATASET"), help="a DialogSum folder")
    parser.add_argument("--notebooks", type=Path, default=KIT_ROOT / "notebooks", help="the instructor notebooks")
    parser.add_argument("--sandbox", default="auto", help="auto (the strongest here), bubblewrap or copy")
    parser.add_argument("--checker-seed", type=int, help="the seed of the checkers' own cases (default: a new one)")
    parser.add_argument("--memory-gb", type=float, default=Limits.memory_gb, help="address space per notebook")
    parser.add_argument("--processes", type=int, default=Limits.processes, help="processes a notebook may start")
    parser.add_argument("--file-mb", type=int, default=Limits.file_mb, help="largest file a notebook may write")
    parser.add_argument("--output-mb", type=float, default=Limits.output_mb, help="outputs kept per notebook")
    return parser


def _check(options) -> str:
    """What is wrong with the command line, in one sentence, or ''."""
    if not options.submissions.is_dir():
        return f"{options.submissions} is not a folder: pass the folder that holds the submitted notebooks."
    if not find(options.submissions):
        return f"{options.submissions} holds no files: copy the submitted notebooks into it."
    if options.dataset and not Path(options.dataset).is_dir():
        return f"no dataset folder {options.dataset}: pass a DialogSum folder, or none for the kit's sample."
    if options.out is not None and gradebook.busy(options.out):
        return f"another make grade is writing to {options.out}: wait for it, or pass a new --out folder."
    if options.out is not None and options.out.exists() and any(options.out.iterdir()):
        return f"{options.out} already holds files: pass a new --out folder (nothing there is overwritten)."
    for name, value in (("--time-limit", options.time_limit), ("--memory-gb", options.memory_gb)):
        if not value > 0:
            return (
                f"{name} {value:g}: give a positive number, e.g. {_parser().get_default(name[2:].replace('-', '_'))}."
            )
    for name, value in (("--processes", options.processes), ("--file-mb", options.file_mb)):
        if value < 1:
            return f"{name} {value}: give a positive whole number."
    if not options.output_mb > 0:
        return f"--output-mb {options.output_mb:g}: give a positive number of megabytes, e.g. 2."
    return ""


def kernel_env(options, private: Path) -> dict[str, str]:
    """The settings every kernel (and the grader's trusted copies) use: offline, the instant stand-in."""
    chosen = {
        key: value for key, value in os.environ.items() if key.startswith("LABS_") or key in QUIET + (SPIN, WAIT_POLICY)
    }
    env = with_thread_env(chosen)  # the instructor's choice, else the kit's (threads.py: why)
    env.update(LABS_PROFILE="offline", LABS_STANDIN="instant", LABS_CACHE=str(private / "cache"))
    env.pop("LABS_MODEL", None)
    env.pop("LABS_RUN_DIR", None)
    if options.dataset:
        env["LABS_DATASET"] = options.dataset
    return env


def grade_all(found: list[Submission], options, sandbox: Sandbox, out: Path, book: gradebook.Book) -> None:
    """Grade every submission in its own sandbox and private folder; the results go to ``book`` and ``out``."""
    assignments = {path.stem: load_assignment(path) for path in assignment_notebooks(options.notebooks)}
    print(f"Sandbox: {sandbox.kind}: {sandbox.guarantee}.", flush=True)
    print(f"Checker seed: {options.checker_seed} (--checker-seed {options.checker_seed} repeats these cases).")
    with tempfile.TemporaryDirectory(prefix="labs-grade-") as folder:
        private = Path(folder)
        env = kernel_env(options, private)
        settings = make_settings(env)
        kit = Kit(settings, options.checker_seed)
        kit.folder  # noqa: B018 -- build the stand-in here, before any submission runs
        sandbox.share(private / "cache")
        readable = [KIT_ROOT / "labs_helpers", KIT_ROOT / "data", private / "cache", Path(settings.dataset)]
        for number, submission in enumerate(found, start=1):
            start = time.perf_counter()
            notebook, assignment, problem = problem_with(submission, assignments)
            scores, note = [], problem
            if assignment is not None:
                workdir = private / f"submission-{number}"
                sandbox.prepare(workdir)
                (workdir / submission.path.name).write_bytes(submission.path.read_bytes())  # its private copy
                kernel_env_here = sandbox.env(workdir, {**env, "LABS_RUN_DIR": str(workdir / "run")})
                how = Grading(sandbox, kit, readable, kernel_env_here, options.time_limit)
                try:
                    scores, note = grade_notebook(notebook, assignment, workdir, how)
                finally:  # Ctrl-C included: nothing a submission started outlives its turn
                    kill_descendants()
                gradebook.write_executed(out, submission, notebook)
            book.add(submission, scores, note)
            gradebook.write_feedback(out, submission, scores, note)
            got, total = sum(s.points for s in scores), sum(s.max_points for s in scores)
            flag = "  (review)" if any(s.review for s in scores) else ""
            print(
                f"{submission.student:>16} {submission.label:<44} {got:g}/{total:g}{flag}  "
                f"{time.perf_counter() - start:.0f} s",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    """Grade the submissions, write the gradebook and feedback files, return the exit status."""
    apply_thread_env()  # before torch loads: the grader's own checks wait the same way as the kernels
    options = _parser().parse_args(argv)
    problem = _check(options)
    if problem:
        print(f"make grade: {problem}", file=sys.stderr)
        return 2
    options.dataset = str(Path(options.dataset).resolve()) if options.dataset else None
    if options.checker_seed is None:  # drawn per run, so that no answer can hold the cases' results ready
        options.checker_seed = secrets.randbelow(2**31 - 1) + 1
    found = find(options.submissions)
    try:
        limits = Limits(options.memory_gb, options.file_mb, options.processes, options.output_mb)
        sandbox = choose(options.sandbox, limits)
        if options.out is None:
            out = new_run_folder(KIT_ROOT / "runs", dt.datetime.now().strftime("grade-%Y%m%d-%H%M%S"), stamped=True)
        else:
            out = options.out
            out.mkdir(parents=True, exist_ok=True)
        with gradebook.owned(out) as book:
            become_subreaper()
            try:
                grade_all(found, options, sandbox, out, book)
            except KeyboardInterrupt:
                path = book.save(complete=False)
                print(
                    f"\nmake grade: stopped after {book.graded} of {len(found)} submissions; {path} holds "
                    "them and says it is incomplete. Run it again into a new --out folder.",
                    file=sys.stderr,
                )
                return 130
            path = book.save(complete=True)
    except LabsError as error:
        print(f"make grade: {error}", file=sys.stderr)
        return 2
    print(
        f"\nGradebook: {path} ({book.rejected} files could not be graded, {book.reviews} answers to review); "
        f"feedback in {out / 'feedback'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
