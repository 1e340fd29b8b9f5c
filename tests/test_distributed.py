"""Issue #16, class 4: the training CLI under ``torchrun --nproc_per_node 2`` on CPU (gloo), verified.

Both processes train on different examples, the run folder, its checkpoints and ``final/`` are written
once, a refusal reaches every process (no hang), and resuming works there too. Tiny budgets: seconds.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labs_helpers.settings import KIT_ROOT

TORCHRUN = Path(sys.executable).with_name("torchrun")
TINY = ["--examples", "8", "--eval-examples", "2", "--batch-size", "2", "--max-input-tokens", "48"]

# The CLI itself, with the Trainer's training step wrapped to record a hash of every example each process trains on.
RECORDING_CLI = """
import hashlib, os, sys
import transformers
from labs_helpers import train

training_step = transformers.Trainer.training_step

def recording_step(self, model, inputs, *args, **kwargs):
    with open(os.path.join(os.environ["BATCH_LOG_DIR"], "rank%s.txt" % os.environ["RANK"]), "a") as log:
        for row in inputs["input_ids"].tolist():
            log.write(hashlib.sha1(str([t for t in row if t != 0]).encode()).hexdigest() + "\\n")
    return training_step(self, model, inputs, *args, **kwargs)

transformers.Trainer.training_step = recording_step
sys.exit(train.main())
"""


@pytest.fixture
def launch(settings, standin_path, tmp_path):
    """Run the CLI under torchrun with 2 CPU processes; return the finished process."""
    script = tmp_path / "recording_cli.py"
    script.write_text(RECORDING_CLI)
    env = dict(
        os.environ,
        LABS_PROFILE="offline",
        LABS_STANDIN="instant",
        LABS_DATASET=settings.dataset,
        LABS_CACHE=str(settings.cache_dir),
        LABS_RUN_DIR=str(tmp_path / "runs"),
        LABS_DEVICE="cpu",
        LABS_DTYPE="float32",
        PYTHONPATH=str(KIT_ROOT),
        OMP_NUM_THREADS="1",
    )

    def run(*args: str, logs: Path) -> subprocess.CompletedProcess:
        logs.mkdir()
        command = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(script), *args]
        return subprocess.run(
            command, env=dict(env, BATCH_LOG_DIR=str(logs)), capture_output=True, text=True, timeout=240
        )

    return run


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to this Python")
def test_two_processes_train_on_different_data_and_write_one_run(launch, tmp_path):
    first = launch("full", "--steps", "2", *TINY, logs=tmp_path / "logs-1")
    assert first.returncode == 0, first.stderr[-2000:]
    (run,) = (tmp_path / "runs" / "train").iterdir()  # one run folder, not one per process
    assert sorted(p.name for p in run.iterdir()) == [
        ".run.lock",  # the main process owned the folder while it trained
        "checkpoint-1",
        "checkpoint-2",
        "final",
        "losses.csv",
        "train_summary.json",
    ]
    assert first.stdout.count('"kind": "full"') == 1  # the summary is printed by the main process only
    seen = [set((tmp_path / "logs-1" / f"rank{r}.txt").read_text().split()) for r in (0, 1)]
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # different examples in each process

    refused = launch("full", "--output-dir", str(run), "--steps", "2", *TINY, logs=tmp_path / "logs-2")
    assert refused.returncode != 0 and "never overwrites a run" in refused.stderr

    # A finished run is never changed: continuing it writes one new run beside it, under every process.
    finished = {str(p): p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    resumed = launch("full", "--resume", "--output-dir", str(run), "--steps", "4", *TINY, logs=tmp_path / "logs-3")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    continued = run.with_name(f"{run.name}-continued-001")
    assert sorted(p.name for p in (tmp_path / "runs" / "train").iterdir()) == [run.name, continued.name]
    assert {str(p): p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == finished
    summary = json.loads((continued / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["started_from"] == str(run / "checkpoint-2")
    assert "checkpoint-4" in [p.name for p in continued.glob("checkpoint-*")]
