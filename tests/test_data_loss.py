"""Issue #16, class 1: bad input never costs earlier work (other runs, checkpoints, the stand-in cache).

Each case asserts the one-sentence message (exit status 2 on the command line, LabsError in Python)
and that no file written before it changed.
"""

import hashlib
import json
from pathlib import Path

import pytest

from labs_helpers import LabsError
from labs_helpers.train import main

TINY = ["--steps", "2", "--examples", "4", "--eval-examples", "2", "--batch-size", "2", "--max-input-tokens", "48"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def env(cli_env):
    """The shared CLI settings (conftest.cli_env)."""
    return cli_env


def one_sentence(err: str, message: str) -> None:
    """The error output names the problem in one message, without a traceback."""
    assert message in err, err
    assert "Traceback" not in err


def test_resume_refuses_to_write_into_another_runs_folder(env, capsys):
    a, b = env / "run-a", env / "run-b"
    assert main(["full", "--output-dir", str(a), *TINY]) == 0
    assert main(["full", "--output-dir", str(b), *TINY]) == 0
    before_a, before_b = snapshot(a), snapshot(b)
    capsys.readouterr()
    assert main(["full", "--resume", str(a), "--output-dir", str(b), *TINY]) == 2
    one_sentence(capsys.readouterr().err, "a resumed run writes only into its own folder")
    assert main(["full", "--resume", str(a / "checkpoint-2"), "--output-dir", str(env / "new"), *TINY]) == 2
    assert not (env / "new").exists()
    assert snapshot(a) == before_a and snapshot(b) == before_b
    # Continuing a finished run (it has final/) writes a new run beside it, which records where it started.
    assert main(["full", "--resume", str(a), "--output-dir", str(a), "--steps", "3", *TINY[2:]]) == 0
    assert snapshot(a) == before_a and snapshot(b) == before_b
    summary = json.loads((env / "run-a-continued-001" / "train_summary.json").read_text())
    assert summary["steps"] == 3 and summary["started_from"] == str(a / "checkpoint-2")


def test_finetune_in_python_refuses_the_same(env, dataset, standin_path):
    from labs_helpers.finetuning import FinetunePlan, finetune

    plan = FinetunePlan("full", standin_path, 1e-3, 2, 2, 2, 4, 2, seed=0)
    a = finetune(plan, dataset, output_dir=env / "a").output_dir
    b = finetune(plan, dataset, output_dir=env / "b").output_dir
    before_b = snapshot(b)
    with pytest.raises(LabsError, match="writes only into its own folder"):
        finetune(plan, dataset, output_dir=b, resume=a)
    assert snapshot(b) == before_b


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "nan"], "argument --lr: must be a number above 0 and at most 1, not 'nan'"),
        (["--lr", "inf"], "argument --lr: must be a number above 0 and at most 1, not 'inf'"),
        (["--lr", "1e6"], "argument --lr: must be a number above 0 and at most 1, not '1e6'"),
        (["--lr", "-1"], "argument --lr: must be a number above 0"),
    ],
)
def test_a_non_finite_or_absurd_learning_rate_is_refused_up_front(env, capsys, args, message):
    assert main(["full", *TINY, *args]) == 2
    one_sentence(capsys.readouterr().err, message)
    assert not (env / "runs").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1e-3", "5"])
def test_a_non_finite_learning_rate_setting_is_refused(env, capsys, monkeypatch, value):
    monkeypatch.setenv("LABS_FULL_LR", value)
    assert main(["full", *TINY]) == 2
    one_sentence(capsys.readouterr().err, f"LABS_FULL_LR={value} must be a finite number above 0 and at most 1.")
    assert not (env / "runs").exists()


def test_a_run_whose_weights_turn_nan_stops_and_publishes_nothing(env, dataset, standin_path):
    import torch
    from transformers import TrainerCallback

    from labs_helpers.finetuning import FinetunePlan, finetune

    class Poison(TrainerCallback):  # what a diverging optimizer does, made certain
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 1:
                with torch.no_grad():
                    next(model.parameters()).fill_(float("nan"))

    plan = FinetunePlan("full", standin_path, 1e-3, 4, 2, 2, 8, 2, seed=0)
    with pytest.raises(LabsError, match=r"Training stopped at step 2: a weight is not finite .* nothing was saved"):
        finetune(plan, dataset, output_dir=env / "nan-run", callbacks=[Poison()])
    assert not (env / "nan-run" / "final").exists()


def test_a_nan_loss_in_the_log_stops_training():
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from labs_helpers.runs import stop_if_not_finite

    guard, state = stop_if_not_finite(), TrainerState(global_step=7)
    args = TrainingArguments(output_dir="unused", learning_rate=0.5, report_to="none")
    guard.on_log(args, state, TrainerControl(), logs={"loss": 1.5, "eval_loss": 2.0})
    with pytest.raises(LabsError, match=r"step 7: the loss \(nan\) is not finite \(learning rate 0.5 too high\?\)"):
        guard.on_log(args, state, TrainerControl(), logs={"loss": float("nan")})


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _drop_checksums(folder: Path) -> None:
    """A marker as written before checksums were recorded."""
    marker = folder / "STANDIN_COMPLETE.json"
    marker.write_text(json.dumps({k: v for k, v in json.loads(marker.read_text()).items() if k != "files"}))


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda f: _truncate(f / "model.safetensors"), "model.safetensors is not the file that was built"),
        (lambda f: _truncate(f / "tokenizer.json"), "tokenizer.json is not the file that was built"),
        (lambda f: (f / "config.json").unlink(), "config.json is missing"),
        (lambda f: (f / "STANDIN_COMPLETE.json").write_text("{ half"), "STANDIN_COMPLETE.json is unreadable"),
        (lambda f: (_drop_checksums(f), _truncate(f / "model.safetensors")), "model.safetensors is truncated"),
        (lambda f: (_drop_checksums(f), _truncate(f / "tokenizer.json")), "tokenizer.json cannot be read"),
    ],
)
def test_a_damaged_cached_standin_is_noticed_and_rebuilt(tmp_path, sample, capsys, damage, problem):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from labs_helpers import resolve_model
    from labs_helpers.settings import make_settings

    settings = make_settings(
        {"LABS_PROFILE": "offline", "LABS_STANDIN": "instant", "LABS_CACHE": str(tmp_path), "LABS_DEVICE": "cpu"}
    )
    folder = Path(resolve_model(settings, sample))
    built = (folder / "model.safetensors").read_bytes()
    damage(folder)
    capsys.readouterr()
    assert resolve_model(settings, sample) == str(folder)
    assert f"The cached stand-in in {folder} is damaged ({problem}" in capsys.readouterr().err
    assert (folder / "model.safetensors").read_bytes() == built  # rebuilt, the same model (same seed)
    AutoTokenizer.from_pretrained(folder)
    AutoModelForSeq2SeqLM.from_pretrained(folder)
    assert resolve_model(settings, sample) == str(folder) and "damaged" not in capsys.readouterr().err


def test_an_old_marker_without_checksums_is_still_trusted_when_the_files_are_whole(tmp_path, sample):
    from labs_helpers.standin import cache, instant

    folder = instant.build_instant(instant.training_texts(sample), tmp_path / "standin", seed=0)
    _drop_checksums(folder)
    assert cache.is_complete(folder) and cache.damage(folder) is None
