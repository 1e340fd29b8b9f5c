"""The kit's OpenMP wait policy (labs_helpers/threads.py) and the entry points that apply it."""

from __future__ import annotations

import os
import subprocess
import sys

from labs_helpers import run_labs, threads
from labs_helpers.instructor import grade
from labs_helpers.settings import KIT_ROOT, make_settings


def test_the_users_choice_wins_over_the_kits():
    assert threads.with_thread_env({"A": "1"}) == {"A": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    assert threads.with_thread_env({"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"


def test_applying_it_says_whether_it_takes_effect_in_this_process():
    env: dict[str, str] = {}
    assert threads.apply_thread_env(env) is ("torch" not in sys.modules)
    assert env == threads.THREAD_ENV
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    threads.apply_thread_env(chosen)
    assert chosen == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_the_run_card_says_how_threads_wait():
    assert "passive" in threads.thread_note({"OMP_WAIT_POLICY": "passive"}, 2)
    assert "active (set by OMP_WAIT_POLICY)" in threads.thread_note({"OMP_WAIT_POLICY": "ACTIVE"}, 2)
    assert "torch's default" in threads.thread_note({}, 2)
    card = make_settings(
        {"LABS_PROFILE": "offline", "LABS_STANDIN": "instant", "OMP_WAIT_POLICY": "PASSIVE"}
    ).run_card()
    assert "CPU threads" in card and "OpenMP wait passive" in card


def test_make_labs_hands_the_policy_to_its_kernels(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    for name in run_labs.QUIET:
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test, whatever _hand_down sets
    for name in ("LABS_RUN_DIR", "LABS_PROFILE", "LABS_DATASET", "LABS_CACHE", "LABS_MODEL"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    settings = make_settings({"LABS_PROFILE": "offline", "LABS_STANDIN": "instant"})
    run_labs._hand_down(settings, tmp_path)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_make_grade_gives_every_kernel_the_policy(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    options = grade._parser().parse_args(["submissions"])
    assert grade.kernel_env(options, tmp_path)["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert grade.kernel_env(options, tmp_path)["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_training_cli_applies_it_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    probe = (
        "import os, sys\n"
        "from labs_helpers import train\n"
        "assert 'torch' not in sys.modules\n"
        "train.main(['full', '--no-such-option'])\n"
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=KIT_ROOT, capture_output=True, text=True)
    assert done.stdout.split() == ["PASSIVE", "False"], done.stderr[-2000:]
