"""Issue #36, data loss: a run folder that another process owns, or that is finished, is never changed;
a rebuilt student edition never replaces a notebook a learner changed; Ctrl-C is one line.

A second process is played by a small Python child that claims a folder and sleeps, so the test
does not depend on two trainings overlapping in time; killing it shows that the lock dies with it.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_data_loss import TINY, one_sentence, snapshot

from labs_helpers import LabsError
from labs_helpers.settings import KIT_ROOT
from labs_helpers.train import main


@pytest.fixture
def env(cli_env):
    """The shared CLI settings (conftest.cli_env)."""
    return cli_env


@pytest.fixture
def other_process():
    """Start a child process that owns a folder (as a training run does) until it is killed."""
    children = []

    def own(folder: Path) -> subprocess.Popen:
        code = textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from labs_helpers.folder_lock import claim
            Path({str(folder)!r}).mkdir(parents=True, exist_ok=True)
            claim({str(folder)!r})
            print("owned", flush=True)
            time.sleep(600)
        """)
        child = subprocess.Popen([sys.executable, "-c", code], cwd=KIT_ROOT, stdout=subprocess.PIPE, text=True)
        children.append(child)
        assert child.stdout.readline().strip() == "owned"
        return child

    yield own
    for child in children:
        child.kill()
        child.wait()


def test_a_second_run_into_a_folder_another_process_owns_is_refused(env, capsys, other_process):
    folder = env / "busy"
    child = other_process(folder)
    assert main(["full", "--output-dir", str(folder), *TINY]) == 2
    one_sentence(capsys.readouterr().err, f"is in use by another run (process {child.pid})")
    assert not any(p.name != ".run.lock" for p in folder.iterdir())
    # The lock dies with its owner (SIGKILL leaves no chance to clean up): the folder is free again.
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert main(["full", "--output-dir", str(folder), *TINY]) == 0
    assert (folder / "final" / "config.json").is_file()


def test_resuming_a_run_that_another_process_is_writing_is_refused(env, capsys, other_process, dataset, standin_path):
    from labs_helpers.finetuning import FinetunePlan, finetune
    from labs_helpers.runs import SimulatedInterruption, interrupt_after

    plan = FinetunePlan("full", standin_path, 1e-3, 4, 2, 2, 8, 2, seed=0)
    run = env / "interrupted"
    with pytest.raises(SimulatedInterruption):
        finetune(plan, dataset, output_dir=run, callbacks=[interrupt_after(2)])
    other_process(run)
    before = snapshot(run)
    with pytest.raises(LabsError, match="is in use by another run"):
        finetune(plan, dataset, output_dir=run, resume=run)
    assert snapshot(run) == before


def test_continuing_a_finished_run_writes_a_new_run_and_leaves_the_finished_one_alone(env, capsys):
    done = env / "done"
    assert main(["full", "--output-dir", str(done), *TINY]) == 0
    before = snapshot(done)
    capsys.readouterr()
    assert main(["full", "--output-dir", str(done), "--resume", "--steps", "4", *TINY[2:]]) == 0
    assert snapshot(done) == before  # final/, checkpoints, losses.csv, train_summary.json: all as they were
    new = env / "done-continued-001"
    assert f"{done} is finished (it has final/), and a finished run is never changed" in capsys.readouterr().err
    assert json.loads((new / "started_from.json").read_text()) == {
        "run": str(done),
        "checkpoint": str(done / "checkpoint-2"),
    }
    summary = json.loads((new / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["started_from"] == str(done / "checkpoint-2")
    assert (new / "final" / "config.json").is_file() and (new / "checkpoint-4").is_dir()


def _ctrl_c_on_save(step: int):
    """A callback factory that presses Ctrl-C once the checkpoint of ``step`` is written."""
    from transformers import TrainerCallback

    class CtrlC(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step >= step:
                raise KeyboardInterrupt

    return CtrlC


def test_ctrl_c_during_training_is_one_line_that_says_how_to_continue(env, capsys, monkeypatch):
    import labs_helpers.finetuning as finetuning

    run = env / "stopped"
    monkeypatch.setattr(finetuning, "stop_if_not_finite", _ctrl_c_on_save(2))
    assert main(["full", "--output-dir", str(run), "--steps", "4", *TINY[2:]]) == 130
    err = capsys.readouterr().err
    assert err.strip() == (
        f"labs_helpers.train: Interrupted at step 2 of 4; {run} keeps checkpoint-2. "
        f"To continue, run the same command with --output-dir {run} --resume."
    )
    monkeypatch.undo()
    assert main(["full", "--output-dir", str(run), "--resume", "--steps", "4", *TINY[2:]]) == 0
    assert json.loads((run / "train_summary.json").read_text())["steps"] == 4


def test_ctrl_c_before_the_first_checkpoint_leaves_no_empty_run_folder(env, capsys, monkeypatch):
    import labs_helpers.finetuning as finetuning

    monkeypatch.setattr(finetuning, "training_arguments", _raises(KeyboardInterrupt))
    assert main(["full", *TINY]) == 130
    assert capsys.readouterr().err.strip() == (
        "labs_helpers.train: Interrupted at step 0 of 2, before the first checkpoint: nothing to resume, "
        "so run the command again for a fresh run."
    )
    assert not any((env / "runs" / "train").iterdir())  # the numbered folder it made is gone again


def _raises(error):
    def fail(*args, **kwargs):
        raise error

    return fail


def _student_build(out: Path, capsys) -> tuple[int, str]:
    from labs_helpers.instructor.student_edition import main as student_main

    code = student_main(["--out", str(out), *map(str, NOTEBOOKS)])
    return code, capsys.readouterr().err


NOTEBOOKS = sorted((KIT_ROOT / "notebooks").glob("0[12]*.ipynb"))


def test_make_student_again_keeps_the_notebooks_a_learner_changed(tmp_path, capsys):
    out = tmp_path / "student"
    assert _student_build(out, capsys) == (0, "")
    mine, theirs = out / NOTEBOOKS[0].name, out / NOTEBOOKS[1].name
    notebook = json.loads(mine.read_text())
    notebook["cells"][0]["source"] = "my answers"
    mine.write_text(json.dumps(notebook))
    answers = mine.read_bytes()
    theirs.write_text(theirs.read_text())  # rewritten unchanged: still the edition as built
    code, err = _student_build(out, capsys)
    assert code == 0 and mine.read_bytes() == answers
    assert err.strip() == (
        f"make student: kept {mine}, which changed after make student wrote it (a learner's answers?); "
        "to get the new edition of it, move that file away and run make student again."
    )
    # A folder written before the manifest existed: a notebook that differs from the new edition is kept too.
    (out / ".student_edition.json").unlink()
    code, err = _student_build(out, capsys)
    assert code == 0 and mine.read_bytes() == answers and str(mine) in err and str(theirs) not in err
