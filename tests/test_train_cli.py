import json
import subprocess
import sys

import pytest

from labs_helpers.settings import KIT_ROOT
from labs_helpers.train import main

TINY = ["--steps", "2", "--examples", "4", "--eval-examples", "2", "--batch-size", "2", "--max-input-tokens", "48"]


@pytest.fixture
def env(cli_env):
    """The shared CLI settings (conftest.cli_env)."""
    return cli_env


def test_full_from_the_command_line_then_refuses_to_overwrite(env, capsys):
    out = env / "full-run"
    assert main(["full", "--output-dir", str(out), *TINY]) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 2 and (out / "final" / "config.json").is_file() and (out / "losses.csv").is_file()
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    printed = capsys.readouterr().out  # a line per evaluation, not the Trainer's raw log dictionaries
    assert "step     2 of 2: training loss" in printed and "validation loss" in printed and "{'" not in printed
    assert main(["full", "--output-dir", str(out), *TINY]) == 2
    assert "never overwrites a run" in capsys.readouterr().err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_lora_from_the_command_line_in_a_fresh_run_folder(env):
    assert main(["lora", "--r", "4", "--alpha", "8", "--target-modules", "q", "v", *TINY]) == 0
    runs = sorted((env / "runs" / "train").iterdir())
    assert [p.name for p in runs] == ["lora-001"]
    adapter = json.loads((runs[0] / "final" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and sorted(adapter["target_modules"]) == ["q", "v"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["lora", "--r", "0"], "argument --r: must be a whole number of 1 or more"),
        (["lora", "--target-modules", "query"], "no module named 'query'"),
        (["full", "--resume", "{tmp}/not-a-run"], "is not a checkpoint"),
        (["full", "--resume"], "needs --output-dir"),
        (["full", "--output-dir", "{tmp}/file/out"], "Cannot write to"),
    ],
)
def test_bad_input_gets_one_clear_message(env, capsys, args, message):
    (env / "file").write_text("x")
    assert main([a.format(tmp=env) for a in args] + TINY) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (env / "runs" / "train").exists() or not any((env / "runs" / "train").iterdir())


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "labs_helpers.train", "--help"],
        capture_output=True,
        text=True,
        cwd=KIT_ROOT,
        timeout=120,
    )
    assert result.returncode == 0 and "--resume" in result.stdout and "--target-modules" in result.stdout


def test_sagemaker_entry_point_translates_hyperparameters():
    import importlib.util

    from labs_helpers.settings import KIT_ROOT

    spec = importlib.util.spec_from_file_location("sagemaker_train", KIT_ROOT / "tools" / "sagemaker_train.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    assert entry.translate(["--kind", "lora", "--r", "16"], {"SM_MODEL_DIR": "/opt/ml/model"}) == [
        "lora",
        "--r",
        "16",
        "--output-dir",
        "/opt/ml/model/lora",
    ]
    assert entry.translate(["--steps", "5", "--output-dir", "x"], {}) == ["full", "--steps", "5", "--output-dir", "x"]
