"""Issue #16, class 2: settings and command-line options that cannot work get one sentence, before any run.

Settings raise LabsError from ``make_settings``; the training CLI exits with status 2 (argparse's
validators) and leaves no run folder behind.
"""

import pytest

from labs_helpers import LabsError, hub
from labs_helpers.settings import KIT_ROOT, MAX_SEED, SAMPLE_DATA, get_settings, make_settings
from labs_helpers.train import main

OFFLINE = {"LABS_PROFILE": "offline", "LABS_DEVICE": "cpu"}


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("LABS_SEED", "-1", f"LABS_SEED=-1 must be 0 to {MAX_SEED}. Set it to e.g. 42, or unset it."),
        ("LABS_SEED", str(2**32), f"LABS_SEED={2**32} must be 0 to {MAX_SEED}."),
        ("LABS_SEED", "4.5", "LABS_SEED='4.5' is not a whole number."),
        ("LABS_HUB_TIMEOUT", "soon", "LABS_HUB_TIMEOUT='soon' is not a number. Set it to e.g. 3, or unset it."),
        ("LABS_HUB_TIMEOUT", "-2", "LABS_HUB_TIMEOUT=-2 must be a finite number above 0 and at most 600."),
        ("LABS_DEVICE", "cuda:x", "LABS_DEVICE='cuda:x' is not a device this kit knows. Use cuda, cuda:N"),
        ("LABS_DEVICE", "cpu:0:1", "LABS_DEVICE='cpu:0:1' is not a device this kit knows."),
        ("LABS_DEVICE", "cpu:", "LABS_DEVICE='cpu:' is not a device this kit knows."),
        ("LABS_FULL_LR", "inf", "LABS_FULL_LR=inf must be a finite number above 0 and at most 1."),
    ],
)
def test_a_setting_that_cannot_work_is_one_sentence(name, value, message):
    env = dict(OFFLINE, LABS_PROFILE="auto" if name == "LABS_HUB_TIMEOUT" else "offline", **{name: value})
    with pytest.raises(LabsError) as error:
        make_settings(env)
    assert message in str(error.value)


def test_edge_values_that_do_work():
    assert make_settings(dict(OFFLINE, LABS_SEED="0")).seed == 0
    assert make_settings(dict(OFFLINE, LABS_SEED=str(MAX_SEED))).seed == MAX_SEED
    assert make_settings(dict(OFFLINE, LABS_DEVICE="cpu")).device == "cpu"


def test_relative_paths_are_made_absolute_once_against_where_the_settings_were_made(tmp_path):
    (tmp_path / "mydata").mkdir()
    env = dict(OFFLINE, LABS_DATASET="mydata", LABS_CACHE="cache", LABS_RUN_DIR="runs/x", LABS_MODEL="./model")
    s = make_settings(env, base=tmp_path)
    assert (s.dataset, s.cache_dir, s.run_dir) == (str(tmp_path / "mydata"), tmp_path / "cache", tmp_path / "runs/x")
    assert s.model == str(tmp_path / "model")
    assert make_settings(dict(OFFLINE, LABS_DATASET="data"), base=KIT_ROOT).dataset == str(SAMPLE_DATA)
    hub_ids = make_settings(dict(OFFLINE, LABS_DATASET="knkarthick/dialogsum", LABS_MODEL="t5-small"), base=tmp_path)
    assert (hub_ids.dataset, hub_ids.model) == ("knkarthick/dialogsum", "t5-small")


def test_auto_with_a_local_model_folder_says_what_it_chose_and_why(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    s = make_settings({"LABS_MODEL": str(tmp_path), "LABS_DEVICE": "cpu"})
    assert s.profile == "offline" and s.n_eval == 6
    assert f"LABS_MODEL={tmp_path} is a local folder, so this run is offline" in s.run_card()
    course = make_settings({"LABS_MODEL": str(tmp_path), "LABS_PROFILE": "course", "LABS_DEVICE": "cpu"})
    assert course.profile == "course" and "with the course's budgets" in course.run_card()


@pytest.mark.parametrize(
    "option, value, bound",
    [
        ("--steps", "0", "a whole number of 1 or more and at most 100000"),
        ("--batch-size", "0", "a whole number of 1 or more and at most 1024"),
        ("--gradient-accumulation", "0", "a whole number of 1 or more and at most 4096"),
        ("--examples", "0", "a whole number of 1 or more and at most 1000000"),
        ("--eval-examples", "-3", "a whole number of 1 or more and at most 1000000"),
        ("--max-input-tokens", "0", "a whole number of 1 or more and at most 4096"),
        ("--r", "0", "a whole number of 1 or more and at most 4096"),
        ("--alpha", "-1", "a whole number of 1 or more and at most 4096"),
        ("--steps", "ten", "a whole number of 1 or more and at most 100000"),
        ("--lr", "-1", "a number above 0 and at most 1"),
        ("--lr", "0", "a number above 0 and at most 1"),
        ("--weight-decay", "-0.1", "a finite number of 0 or more"),
        ("--dropout", "1", "a number from 0 up to (not including) 1"),
    ],
)
def test_an_option_of_zero_or_below_is_refused_and_leaves_no_run_folder(
    option, value, bound, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("LABS_PROFILE", "offline")
    monkeypatch.setenv("LABS_RUN_DIR", str(tmp_path / "runs"))
    get_settings.cache_clear()
    try:
        assert main(["lora", option, value]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert f"error: argument {option}: must be {bound}, not '{value}'" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
