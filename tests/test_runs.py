"""Run folders that are never overwritten, and checkpoints to resume from."""

import pytest

from labs_helpers import LabsError
from labs_helpers.runs import check_output_dir, find_checkpoint, new_run_folder


def test_new_run_folder_never_reuses_a_folder(tmp_path):
    first = new_run_folder(tmp_path, "full")
    (first / "keep.txt").write_text("earlier run")
    second = new_run_folder(tmp_path, "full")
    assert (first.name, second.name) == ("full-001", "full-002")
    assert (first / "keep.txt").read_text() == "earlier run"
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(LabsError, match="Cannot create a run folder"):
        new_run_folder(blocker / "sub")


def test_check_output_dir_refuses_a_used_or_unwritable_folder(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "model.safetensors").write_text("weights")
    with pytest.raises(LabsError, match="never overwrites a run"):
        check_output_dir(used)
    assert (used / "model.safetensors").read_text() == "weights"
    assert check_output_dir(used, resume=True) == used
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LabsError, match="Cannot write to"):
        check_output_dir(blocker / "out")
    with pytest.raises(LabsError, match="is a file"):
        check_output_dir(blocker)


def test_find_checkpoint_takes_the_latest_and_names_a_wrong_path(tmp_path):
    for step in (2, 10):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "trainer_state.json").write_text("{}")
        (folder / "model.safetensors").write_text("")
    (tmp_path / "checkpoint-99").mkdir()  # incomplete: no weights
    assert find_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert find_checkpoint(tmp_path / "checkpoint-2") == str(tmp_path / "checkpoint-2")
    with pytest.raises(LabsError, match="is not a checkpoint"):
        find_checkpoint(tmp_path / "checkpoint-99")
    with pytest.raises(LabsError, match="is not a checkpoint"):
        find_checkpoint(tmp_path / "nowhere")


def test_loss_table_prints_one_line_per_evaluation(capsys):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from labs_helpers.runs import loss_table

    state = TrainerState(global_step=300, max_steps=1200, log_history=[{"loss": 3.5, "step": 300}])
    args = TrainingArguments(output_dir="unused", report_to="none")
    loss_table().on_evaluate(args, state, TrainerControl(), metrics={"eval_loss": 2.6491})
    assert capsys.readouterr().out == "step   300 of 1200: training loss 3.5000, validation loss 2.6491\n"
