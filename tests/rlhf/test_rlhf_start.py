"""Where PPO starts: notebook 05's newest adapter for the model in use, never one of another model."""

from __future__ import annotations

import json

import pytest

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import start


def adapter(folder, base):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    return folder


def test_latest_adapter_is_the_newest_run_for_this_model(tmp_path):
    parent = tmp_path / "05_peft_lora"
    assert start.latest_adapter(parent, "m") is None
    adapter(parent / "run-001" / "adapter", "m")
    newest = adapter(parent / "run-002" / "adapter", "m")
    adapter(parent / "run-003" / "adapter", "another-model")
    (parent / "run-004").mkdir()  # a run that stopped before saving its adapter
    assert start.latest_adapter(parent, "m") == newest
    assert start.latest_adapter(parent, "nothing-trained-on-this") is None


def test_an_adapter_of_another_model_is_refused(tmp_path):
    folder = adapter(tmp_path / "a", "model-a")
    start.check_adapter_base(folder, "model-a")
    with pytest.raises(LabsError, match="trained on model-a, not on model-b"):
        start.check_adapter_base(folder, "model-b")


def test_start_adapter_takes_notebook_05s_adapter_before_training_one(tmp_path, settings):
    fallback = start.lora_fallback(settings, "m")
    assert fallback.kind == "lora" and fallback.steps == max(1, settings.train_steps // 4)
    found = adapter(tmp_path / "05_peft_lora" / "run-001" / "adapter", "m")
    assert start.start_adapter(tmp_path, fallback, None, tmp_path / "ppo") == found


def test_a_ppo_and_a_dpo_run_take_the_same_fields_from_the_settings(settings):
    from labs_helpers.rlhf.dpo_run import DPORun
    from labs_helpers.rlhf.run import PPORun, summary_fields

    ppo, dpo = PPORun.from_settings(settings, "m", steps=3), DPORun.from_settings(settings, "m", beta=0.2)
    shared = start.run_fields(settings, "m")
    assert shared["device"] == settings.device and shared["max_new_tokens"] == settings.max_new_tokens
    assert all(getattr(dpo, k) == v for k, v in shared.items()) and ppo.steps == 3
    assert all(getattr(ppo, k) == v for k, v in shared.items() if k != "steps")
    assert ppo.learning_rate == settings.ppo_lr and dpo.dpo.beta == 0.2
    fields = ["model", "adapter", "reference", "steps", "learning_rate", "batch_size", "seed"]
    assert list(summary_fields(ppo)) == fields  # the summary as before: no machine fields
