"""The kit's OpenMP spin count (labs_helpers/threads.py) and the entry points that apply it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from labs_helpers import threads
from labs_helpers.instructor import grade
from labs_helpers.settings import KIT_ROOT, make_settings

OURS = {"GOMP_SPINCOUNT": "10000"}


@pytest.fixture
def no_choice(monkeypatch):
    """An environment that says nothing about how threads wait."""
    for name in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(name, raising=False)


def test_the_users_choice_wins_over_the_kits():
    assert threads.THREAD_ENV == OURS
    assert threads.with_thread_env({"A": "1"}) == {"A": "1"} | OURS
    assert threads.with_thread_env({"GOMP_SPINCOUNT": "5"}) == {"GOMP_SPINCOUNT": "5"}
    assert threads.with_thread_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_applying_it_says_whether_it_takes_effect_in_this_process():
    env: dict[str, str] = {}
    assert threads.apply_thread_env(env) is ("torch" not in sys.modules)
    assert env == OURS
    chosen = {"OMP_WAIT_POLICY": "PASSIVE"}
    threads.apply_thread_env(chosen)
    assert chosen == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_the_run_card_says_how_threads_wait():
    assert "GOMP_SPINCOUNT=10000 (threads spin briefly" in threads.thread_note(OURS, 2)
    assert "OMP_WAIT_POLICY=ACTIVE (your choice)" in threads.thread_note({"OMP_WAIT_POLICY": "ACTIVE"}, 2)
    assert "torch's default wait" in threads.thread_note({}, 2)
    card = make_settings({"LABS_PROFILE": "offline", "LABS_STANDIN": "instant"} | OURS).run_card()
    assert "CPU threads" in card and "GOMP_SPINCOUNT=10000" in card


def test_make_labs_applies_it_before_torch_loads_so_its_kernels_inherit_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env |= {"LABS_PROFILE": "offline", "LABS_STANDIN": "instant", "LABS_DATASET": str(tmp_path / "missing")}
    probe = (
        "import os, sys\n"
        "from labs_helpers import run_labs\n"
        "assert 'torch' not in sys.modules\n"
        f"status = run_labs.main(['--runs', {str(tmp_path)!r}])\n"  # stops at the missing dataset, exit status 2
        "print(status, os.environ.get('GOMP_SPINCOUNT'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=KIT_ROOT, capture_output=True, text=True)
    assert done.stdout.split()[-2:] == ["2", "10000"], done.stderr[-2000:]


def test_make_grade_gives_every_kernel_the_kits_or_the_instructors_choice(no_choice, monkeypatch, tmp_path):
    options = grade._parser().parse_args(["submissions"])
    assert grade.kernel_env(options, tmp_path)["GOMP_SPINCOUNT"] == "10000"
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    env = grade.kernel_env(options, tmp_path)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and "GOMP_SPINCOUNT" not in env


def test_the_training_cli_applies_it_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    probe = (
        "import os, sys\n"
        "from labs_helpers import train\n"
        "assert 'torch' not in sys.modules\n"
        "train.main(['full', '--no-such-option'])\n"
        "print(os.environ.get('GOMP_SPINCOUNT'), 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=KIT_ROOT, capture_output=True, text=True)
    assert done.stdout.split() == ["10000", "False"], done.stderr[-2000:]
