"""The same assignment under nbgrader itself: generate_assignment releases make student's notebook, and
autograde scores the kit's checker cells, in a temporary course folder laid out as the README shows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import dataset_dir

from labs_helpers.instructor.nbgrader_course import write_course
from labs_helpers.instructor.student_edition import grading, student_notebook
from labs_helpers.settings import KIT_ROOT

ANATOMY = KIT_ROOT / "notebooks" / "01_transformer_anatomy.ipynb"
NAME = ANATOMY.stem


def nbgrader(course: Path, *args: str) -> str:
    """Run an nbgrader command in the course folder, offline with the instant stand-in; return its log."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # nbgrader calls alembic
        "PYTHONPATH": f"{KIT_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",  # the config imports the kit
        "LABS_PROFILE": "offline",
        "LABS_STANDIN": "instant",
        "LABS_DATASET": str(dataset_dir()),
        "LABS_CACHE": str(course.parent / "cache"),
        "LABS_RUN_DIR": str(course.parent / "runs"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ERROR" not in done.stderr, done.stderr  # nbgrader logs a broken config and carries on without it
    return done.stderr


def test_generate_assignment_and_autograde_in_a_course_folder(tmp_path):
    course = tmp_path / "course"
    write_course(course, [ANATOMY])
    assert (course / "source" / NAME / ANATOMY.name).is_file() and (course / "nbgrader_config.py").is_file()

    nbgrader(course, "generate_assignment", NAME, "--force")
    released = nbformat.read(course / "release" / NAME / ANATOMY.name, as_version=4)
    assert released == student_notebook(ANATOMY)  # make student and nbgrader release the same notebook

    # One student solved 01.1 and left 01.2 as released: one checker passes, the other fails with its hint.
    answer = next(c for c in nbformat.read(ANATOMY, as_version=4).cells if grading(c).get("grade_id") == "answer_01_1")
    next(c for c in released.cells if grading(c).get("grade_id") == "answer_01_1").source = answer.source
    submitted = course / "submitted" / "pat" / NAME
    submitted.mkdir(parents=True)
    nbformat.write(released, submitted / ANATOMY.name)
    nbgrader(course, "autograde", NAME, "--create", "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        result = book.find_submission_notebook(NAME, NAME, "pat")
        assert {g.name: g.score for g in result.grades} == {"check_01_1": 1.0, "check_01_2": 0.0}
        assert (result.score, result.max_score) == (1.0, 3.0)
    graded = nbformat.read(course / "autograded" / "pat" / NAME / ANATOMY.name, as_version=4)
    check = next(c for c in graded.cells if grading(c).get("grade_id") == "check_01_2")
    assert "Exercise 01.2: your turn. Hint:" in check.outputs[-1]["evalue"]
    shutil.rmtree(course / "autograded")  # nbgrader writes it read-only
