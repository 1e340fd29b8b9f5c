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
