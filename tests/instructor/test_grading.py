"""``make grade``: a folder of submissions graded offline into a gradebook and one feedback file each.

One grading run covers the editions and the failure cases (notebook 01 in full; trimmed copies of 03,
whose exercises need no model, for the cases that only need a few cells); a second run, with a short
time limit, covers a submission that hangs.
"""

from __future__ import annotations

import copy
import csv
import time
from pathlib import Path

import nbformat
import pytest
from conftest import dataset_dir

from labs_helpers.exercises import HINTS
from labs_helpers.instructor import grade
from labs_helpers.instructor.student_edition import grading, student_notebook
from labs_helpers.settings import KIT_ROOT

ANATOMY = KIT_ROOT / "notebooks" / "01_transformer_anatomy.ipynb"
DECODING = KIT_ROOT / "notebooks" / "03_generation_config.ipynb"


def by_id(notebook, grade_id: str):
    """The cell with this nbgrader id."""
    return next(cell for cell in notebook.cells if grading(cell).get("grade_id") == grade_id)


def decoding_exercises(after_check_03_1: str, distinct_n_answer: str | None = None):
    """Notebook 03 cut down to its answer and checker cells, with one extra cell after the first checker."""
    notebook = nbformat.read(DECODING, as_version=4)
    notebook.cells = [c for c in notebook.cells if grading(c).get("solution") or grading(c).get("grade")]
    index = notebook.cells.index(by_id(notebook, "check_03_1"))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(after_check_03_1))
    if distinct_n_answer is not None:
        by_id(notebook, "answer_03_3").source = distinct_n_answer
    return notebook


def write(path: Path, notebook) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def grade_into(root: Path, folder: Path, *options: str, key=lambda row: (row["student"], row["notebook"])):
    """Run ``python -m labs_helpers.instructor.grade`` on ``folder`` into ``root/graded``; the run folder and
    the gradebook's rows grouped by ``key`` (by default (student, notebook))."""
    out = root / "graded"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABS_CACHE", str(root / "cache"))
        assert grade.main([str(folder), "--out", str(out), "--dataset", str(dataset_dir()), *options]) == 0
    rows: dict = {}
    with open(out / "gradebook.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(key(row), []).append(row)
    return out, rows


def run_grader(tmp_path: Path, folder: Path, *options: str) -> dict:
    """The grader's run folder and its rows by (student, notebook)."""
    out, rows = grade_into(tmp_path, folder, *options)
    return {"rows": rows, "out": out}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One grading run over every kind of submission."""
    root = tmp_path_factory.mktemp("grade")
    folder = root / "submitted"
    student = student_notebook(ANATOMY)
    partial = copy.deepcopy(student)
    by_id(partial, "answer_01_1").source = by_id(nbformat.read(ANATOMY, as_version=4), "answer_01_1").source
    write(folder / "ines" / ANATOMY.name, nbformat.read(ANATOMY, as_version=4))  # <student>/<notebook>
    write(folder / "sam" / ANATOMY.stem / ANATOMY.name, student)  # nbgrader's <student>/<assignment>/<notebook>
    write(folder / "pat.ipynb", partial)  # a flat file: the student is its name, the notebook its content
    per_text = "def distinct_n(texts, n):\n    return 1.0\n"
    write(folder / "rae" / DECODING.name, decoding_exercises("1 / 0  # a lesson cell that fails", per_text))
    (folder / "nia").mkdir()
    (folder / "nia" / "answers.txt").write_text("top_p: sort, then cut\n")
    (folder / "cut" / ANATOMY.name).parent.mkdir()
    (folder / "cut" / ANATOMY.name).write_text(ANATOMY.read_text()[:5000])  # cut short in the upload
    write(folder / "eve" / ANATOMY.name, decoding_exercises("pass"))  # notebook 03, named as 01
    write(folder / "max" / "homework.ipynb", nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
    start = time.perf_counter()
    result = run_grader(root, folder)
    return {**result, "seconds": time.perf_counter() - start}


def scores(rows: list[dict]) -> dict[str, tuple[str, str, str]]:
    return {row["exercise"]: (row["points"], row["max_points"], row["feedback"]) for row in rows}


def test_the_instructor_edition_scores_full_marks(graded):
    got = scores(graded["rows"][("ines", ANATOMY.name)])
    assert {k: v[:2] for k, v in got.items()} == {"01.1": ("1", "1"), "01.2": ("2", "2")}
    assert all(feedback.startswith(f"Exercise {k}: passed") for k, (_, _, feedback) in got.items())


def test_the_student_edition_scores_zero_with_every_hint(graded):
    got = scores(graded["rows"][("sam", ANATOMY.name)])
    assert sorted(got) == ["01.1", "01.2"]
    for exercise, (points, most, feedback) in got.items():
        assert points == "0" and most in ("1", "2")
        assert f"Exercise {exercise}: your turn" in feedback and HINTS[exercise] in feedback
    report = (graded["out"] / "feedback" / "sam" / "01_transformer_anatomy.md").read_text()
    assert "Score: 0 / 3" in report and all(HINTS[e] in report for e in got)


def test_a_partly_solved_notebook_scores_what_it_solved(graded):
    got = scores(graded["rows"][("pat", "pat.ipynb")])
    assert got["01.1"][:2] == ("1", "1") and got["01.2"][:2] == ("0", "2")
    assert HINTS["01.2"] in got["01.2"][2]


def test_a_submission_that_raises_midway_is_graded_for_what_ran(graded):
    got = scores(graded["rows"][("rae", DECODING.name)])
    assert {k: v[0] for k, v in got.items()} == {"03.1": "2", "03.2": "1", "03.3": "0"}
    assert "not yet" in got["03.3"][2] and HINTS["03.3"] in got["03.3"][2]
    executed = nbformat.read(graded["out"] / "executed" / "rae" / DECODING.stem / DECODING.name, as_version=4)
    errors = [o["ename"] for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == ["ZeroDivisionError", "AssertionError"]


@pytest.mark.parametrize(
    "student, name, says",
    [
        ("nia", "answers.txt", "not a notebook"),
        ("cut", ANATOMY.name, "not a notebook"),
        ("eve", ANATOMY.name, "it is 03_generation_config, submitted as 01_transformer_anatomy"),
        ("max", "homework.ipynb", "holds none of the checker cells"),
    ],
)
def test_what_cannot_be_graded_is_one_gradebook_line(graded, student, name, says):
    [row] = graded["rows"][(student, name)]
    assert row["points"] == "0" and row["exercise"] == "" and says in row["feedback"]
    assert says in (graded["out"] / "feedback" / student / f"{Path(name).stem}.md").read_text()


def test_every_submission_gets_a_feedback_file_and_grading_is_quick(graded):
    assert len(list((graded["out"] / "feedback").rglob("*.md"))) == len(graded["rows"]) == 8
    # 3 full runs of notebook 01 and one short notebook, on 2 shared cores: well under 2 minutes each
    assert graded["seconds"] < 4 * 120


def test_a_submission_that_hangs_is_stopped_and_graded_for_what_ran(tmp_path):
    folder = tmp_path / "submitted"
    write(folder / "hal" / DECODING.name, decoding_exercises("import time\n\ntime.sleep(3600)"))
    start = time.perf_counter()
    got = scores(run_grader(tmp_path, folder, "--time-limit", "60")["rows"][("hal", DECODING.name)])
    assert time.perf_counter() - start < 60 + 45  # the limit, and the kernel's start and shutdown
    assert {k: v[0] for k, v in got.items()} == {"03.1": "2", "03.2": "0", "03.3": "0"}
    assert "not run: cell 3 was still running when the notebook's 60 s were up" in got["03.2"][2]


def test_bad_command_lines_exit_2_and_overwrite_nothing(tmp_path, capsys):
    assert grade.main([str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert grade.main([str(tmp_path / "empty")]) == 2
    (tmp_path / "empty" / "a.ipynb").write_text("{}")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "gradebook.csv").write_text("kept")
    assert grade.main([str(tmp_path / "empty"), "--out", str(tmp_path / "old")]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert (tmp_path / "old" / "gradebook.csv").read_text() == "kept"
    assert grade.main([str(tmp_path / "empty"), "--dataset", str(tmp_path / "nowhere")]) == 2
    assert "no dataset folder" in capsys.readouterr().err
