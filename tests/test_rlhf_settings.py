"""PPO budgets in the settings: the lab's on the course profile, small offline, overridable, on the run card."""

from __future__ import annotations

import pytest

from labs_helpers import course
from labs_helpers.errors import LabsError
from labs_helpers.profiles import SIZES
from labs_helpers.settings import make_settings


def test_course_sizes_are_the_labs_ppo_settings():
    assert (SIZES["course"]["ppo_steps"], SIZES["course"]["ppo_lr"], SIZES["course"]["ppo_batch_size"]) == (
        10,
        1.41e-5,
        16,
    )
    assert course.PPO_MINI_BATCH_SIZE == 4
    assert all(size["ppo_batch_size"] % course.PPO_MINI_BATCH_SIZE == 0 for size in SIZES.values())


def test_ppo_settings_come_from_the_environment_and_show_on_the_run_card():
    s = make_settings({"LABS_PROFILE": "offline", "LABS_STANDIN": "instant"})
    assert s.ppo_steps == SIZES["instant"]["ppo_steps"]
    s = make_settings(
        {"LABS_PROFILE": "offline", "LABS_PPO_STEPS": "3", "LABS_PPO_LR": "2e-4", "LABS_PPO_BATCH_SIZE": "12"}
    )
    assert (s.ppo_steps, s.ppo_lr, s.ppo_batch_size) == (3, 2e-4, 12)
    assert "PPO steps / batch / lr" in s.run_card() and "3 / 12 / 0.0002" in s.run_card()


def test_bad_ppo_settings_are_refused_in_one_sentence():
    with pytest.raises(LabsError, match="LABS_PPO_STEPS=0 must be at least 1"):
        make_settings({"LABS_PROFILE": "offline", "LABS_PPO_STEPS": "0"})
    with pytest.raises(LabsError, match="LABS_PPO_LR='fast' is not a number"):
        make_settings({"LABS_PROFILE": "offline", "LABS_PPO_LR": "fast"})
