"""Submissions written to take marks they did not earn, or to harm the kit, the gradebook or other students.

One grading run holds an honest student and one hostile submission per class of attack; a second run
holds the honest student alone. Every hostile one scores 0 for the exercises it left unsolved, and
afterwards the kit's files, the instructor notebooks, the honest student's results and the gradebook's
rows for them are byte-identical to the run without the attackers.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from pathlib import Path

import nbformat
import pytest
from conftest import dataset_dir
from test_grading import DECODING, by_id, grade_into, write

from labs_helpers.instructor import grade
from labs_helpers.instructor.sandbox import namespaces_work
from labs_helpers.instructor.student_edition import grading, student_notebook
from labs_helpers.settings import KIT_ROOT

needs_namespaces = pytest.mark.skipif(not namespaces_work(), reason="bubblewrap cannot make namespaces here")
MARKER = "labs-hostile-sleeper"  # in the command line of every process an attacker leaves behind


def exercises(edition, extra: str = "", after: str = "answer_03_1"):
    """Notebook 03 cut to its answer and checker cells, with ``extra`` as a cell after ``after``."""
    notebook = edition if not isinstance(edition, Path) else nbformat.read(edition, as_version=4)
    notebook.cells = [c for c in notebook.cells if grading(c).get("solution") or grading(c).get("grade")]
    if extra:
        index = notebook.cells.index(by_id(notebook, after))
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(extra))
    return notebook


def attacks(out: Path, submitted: Path) -> dict[str, str]:
    """One answer-cell addition per class of attack, by the attacker's name."""
    solutions = KIT_ROOT / "notebooks" / DECODING.name
    other = out / "feedback" / "ines" / f"{DECODING.stem}.md"
    return {
        "patcher": "from labs_helpers.exercises import decoding_checks, feedback\n"
        "feedback.Feedback.assert_passed = lambda self: self\n"
        "feedback.Feedback.__bool__ = lambda self: True\n"
        "decoding_checks.check_top_p = decoding_checks.check_temperature = decoding_checks.check_distinct_n = (\n"
        "    lambda *a, **k: feedback.Feedback('03.x', True, 'passed'))",
        "handler": "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
        "editor": "import labs_helpers.exercises.decoding_checks as m\n"
        "try:\n    open(m.__file__, 'a').write('\\ncheck_top_p = lambda *a: None\\n')\n"
        "except OSError as error:\n    print('kit is read-only:', type(error).__name__)",
        "sleeper": "import subprocess, sys\n"
        f'code = \'import time; time.sleep(8); open({str(out / "gradebook.csv")!r}, "w").write("hacked")\'\n'
        f"subprocess.Popen([sys.executable, '-c', code, {MARKER!r}], start_new_session=True)",
        "reader": "import json\n"
        f"cells = json.load(open({str(solutions)!r}))['cells']\n"
        "exec(''.join(next(c for c in cells if c['metadata'].get('nbgrader', {}).get('grade_id') == 'answer_03_1')"
        "['source']).replace('### BEGIN SOLUTION 03.1', ''))",
        "lister": f"import os\nprint(sorted(os.listdir({str(submitted)!r})))",
        "vandal": f"import os, shutil\nopen({str(other)!r}, 'w').write('0 / 4')\n"
        f"shutil.rmtree({str(out / 'executed' / 'ines')!r})",
        "forker": "import os, time\npids = []\ntry:\n    for _ in range(400):\n        pid = os.fork()\n"
        f"        if pid == 0:\n            os.execv('/bin/sh', ['sh', '-c', 'sleep 3600; : {MARKER}'])\n"
        "        pids.append(pid)\nexcept OSError as error:\n    print('refused:', type(error).__name__)\n"
        "print('forked', len(pids))",
        "hog": "block = bytearray(40 * 2**30)",
        "writer": "open('big.bin', 'wb').write(b'0' * (64 * 2**20))",
    }


def tree_hash(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` by its SHA-256."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def sleepers() -> list[int]:
    """Processes an attacker left behind (found by the marker in their command line)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if MARKER in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def run(root: Path, folder: Path, *options: str) -> tuple[Path, dict]:
    """Grade ``folder`` into ``root/graded``; the run folder and the gradebook's rows by submission."""
    return grade_into(root, folder, *options, key=lambda row: row["submission"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The honest student alone, then beside every attacker; the kit's files hashed before and after."""
    honest = exercises(DECODING)
    alone = tmp_path_factory.mktemp("alone")
    write(alone / "submitted" / "ines" / DECODING.name, honest)
    baseline_out, baseline = run(alone, alone / "submitted")
    root = tmp_path_factory.mktemp("attacked")
    folder, out = root / "submitted", root / "graded"
    write(folder / "ines" / DECODING.name, honest)
    for name, code in attacks(out, folder).items():
        write(folder / name / DECODING.name, exercises(student_notebook(DECODING), code))
    flagged = "from transformers import TopPLogitsWarper\n\ndef top_p_filter(logits, top_p):\n"
    flagged += "    return TopPLogitsWarper(top_p=top_p)(None, logits)\n"
    write(folder / "tom" / DECODING.name, exercises(student_notebook(DECODING), flagged))
    write(folder / "alice" / "a" / DECODING.name, honest)
    write(folder / "alice" / "b" / DECODING.name, exercises(student_notebook(DECODING)))
    kit_before = tree_hash(KIT_ROOT / "labs_helpers", KIT_ROOT / "notebooks")
    out, rows = run(root, folder, "--file-mb", "16")
    book_before = (out / "gradebook.csv").read_bytes()
    time.sleep(10)  # longer than the sleeper waits before it writes
    return {
        "rows": rows,
        "out": out,
        "baseline": baseline,
        "baseline_out": baseline_out,
        "kit_changed": kit_before != tree_hash(KIT_ROOT / "labs_helpers", KIT_ROOT / "notebooks"),
        "book_kept": (out / "gradebook.csv").read_bytes() == book_before,
        "left": sleepers(),
    }


def points(rows: list[dict]) -> dict[str, str]:
    return {row["exercise"]: row["points"] for row in rows}


def outputs(out: Path, who: str) -> str:
    """All text the executed notebook of ``who`` shows."""
    notebook = nbformat.read(out / "executed" / who / DECODING.stem / DECODING.name, as_version=4)
    shown = [o.get("text") or f"{o.get('ename')}: {o.get('evalue')}" for c in notebook.cells for o in c.outputs]
    return "\n".join(shown)


@pytest.mark.parametrize(
    "attacker", ["patcher", "handler", "editor", "sleeper", "reader", "lister", "vandal", "forker", "hog", "writer"]
)
def test_an_attack_scores_nothing_it_did_not_solve(graded, attacker):
    if attacker in ("reader", "lister", "vandal") and not namespaces_work():
        pytest.skip("only namespaces keep a submission from reading the instructor's files")
    assert points(graded["rows"][f"{attacker}/{DECODING.stem}"]) == {"03.1": "0", "03.2": "0", "03.3": "0"}


def test_the_kit_the_notebooks_and_the_gradebook_are_untouched(graded):
    assert not graded["kit_changed"]
    assert graded["book_kept"]


def test_the_honest_students_results_are_the_same_as_without_the_attackers(graded):
    assert points(graded["rows"][f"ines/{DECODING.stem}"]) == {"03.1": "2", "03.2": "1", "03.3": "1"}
    assert graded["rows"][f"ines/{DECODING.stem}"] == graded["baseline"][f"ines/{DECODING.stem}"]
    for part in (Path("feedback") / "ines" / f"{DECODING.stem}.md", Path("executed") / "ines"):
        assert tree_hash(graded["out"] / part) == {
            k.replace(str(graded["baseline_out"]), str(graded["out"])): v
            for k, v in tree_hash(graded["baseline_out"] / part).items()
        }


def test_no_process_of_a_submission_outlives_its_grading(graded):
    assert graded["left"] == []


@needs_namespaces
def test_a_submission_sees_neither_the_solutions_nor_the_other_submissions(graded):
    assert "FileNotFoundError" in outputs(graded["out"], "reader")
    assert "FileNotFoundError" in outputs(graded["out"], "lister")
    assert "kit is read-only:" in outputs(graded["out"], "editor")  # PermissionError as NOBODY, else OSError


@pytest.mark.skipif(not namespaces_work() and os.geteuid() == 0, reason="no process limit binds root without them")
def test_the_number_of_processes_is_bounded(graded):
    forked = outputs(graded["out"], "forker")
    assert "refused: BlockingIOError" in forked
    assert int(forked.split("forked ")[1].split()[0]) < 400


def test_memory_and_file_size_are_bounded(graded):
    assert "MemoryError" in outputs(graded["out"], "hog")
    assert "File too large" in outputs(graded["out"], "writer")


def test_an_answer_that_calls_the_library_passes_and_is_flagged_for_review(graded):
    rows = {row["exercise"]: row for row in graded["rows"][f"tom/{DECODING.stem}"]}
    assert rows["03.1"]["points"] == "2" and "TopPLogitsWarper" in rows["03.1"]["review"]
    assert not rows["03.2"]["review"] and not any(r["review"] for r in graded["rows"][f"ines/{DECODING.stem}"])
    report = (graded["out"] / "feedback" / "tom" / f"{DECODING.stem}.md").read_text()
    assert "Flagged for your instructor's review" in report


def test_two_submissions_of_one_student_are_kept_apart(graded):
    assert points(graded["rows"][f"alice/a/{DECODING.stem}"]) == {"03.1": "2", "03.2": "1", "03.3": "1"}
    assert points(graded["rows"][f"alice/b/{DECODING.stem}"]) == {"03.1": "0", "03.2": "0", "03.3": "0"}
    feedback = graded["out"] / "feedback" / "alice"
    assert "Score: 4 / 4" in (feedback / "a" / f"{DECODING.stem}.md").read_text()
    assert "Score: 0 / 4" in (feedback / "b" / f"{DECODING.stem}.md").read_text()
    assert (graded["out"] / "executed" / "alice" / "a" / DECODING.stem / DECODING.name).is_file()


def test_endless_output_is_cut_and_stopped_in_time(tmp_path):
    folder = tmp_path / "submitted"
    write(folder / "pat" / DECODING.name, exercises(DECODING, "while True:\n    print('x' * 1000)", "check_03_1"))
    start = time.perf_counter()
    out, rows = run(tmp_path, folder, "--time-limit", "20", "--output-mb", "0.5")
    assert time.perf_counter() - start < 20 + 60  # the limit, the stand-in, the kernel's start and stop
    assert points(rows[f"pat/{DECODING.stem}"])["03.1"] == "2"  # the cells before it still count
    executed = out / "executed" / "pat" / DECODING.stem / DECODING.name
    assert executed.stat().st_size < 600_000
    report = (out / "feedback" / "pat" / f"{DECODING.stem}.md").read_text()
    assert "outputs were cut at 0.5 MB" in report


def test_a_second_grader_into_the_same_folder_is_refused(tmp_path, capsys):
    from labs_helpers.instructor import gradebook

    (tmp_path / "submitted").mkdir()
    (tmp_path / "submitted" / "a.txt").write_text("not a notebook")
    out = tmp_path / "graded"
    out.mkdir()
    with gradebook.owned(out):
        assert grade.main([str(tmp_path / "submitted"), "--out", str(out)]) == 2
    assert "another make grade is writing to" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == []


def test_a_stopped_run_leaves_a_gradebook_marked_incomplete(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "submitted"
    (folder / "amy").mkdir(parents=True)
    (folder / "amy" / "notes.txt").write_text("not a notebook")
    write(folder / "bob" / DECODING.name, exercises(DECODING))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grade, "grade_notebook", interrupted)
    monkeypatch.setenv("LABS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "graded"
    assert grade.main([str(folder), "--out", str(out), "--dataset", str(dataset_dir())]) == 130
    assert not (out / "gradebook.csv").exists()
    with open(out / "gradebook.incomplete.csv", newline="") as handle:
        assert [row["student"] for row in csv.DictReader(handle)] == ["amy"]
    assert "stopped after 1 of 2 submissions" in capsys.readouterr().err


def test_the_copy_sandbox_keeps_the_verdict_the_kit_and_the_processes(tmp_path, capsys):
    folder = tmp_path / "submitted"
    chosen = {k: v for k, v in attacks(tmp_path / "graded", folder).items() if k in ("patcher", "editor", "sleeper")}
    for name, code in chosen.items():
        write(folder / name / DECODING.name, exercises(student_notebook(DECODING), code))
    kit_before = tree_hash(KIT_ROOT / "labs_helpers")
    out, rows = run(tmp_path, folder, "--sandbox", "copy")
    assert "Sandbox: copy:" in capsys.readouterr().out  # with its weaker guarantee, in full
    for name in chosen:
        assert points(rows[f"{name}/{DECODING.stem}"]) == {"03.1": "0", "03.2": "0", "03.3": "0"}
    assert tree_hash(KIT_ROOT / "labs_helpers") == kit_before
    assert sleepers() == []
