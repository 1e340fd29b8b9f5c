"""benchmarks/standin_quality.py on the kit's sample: a tiny build, two fine-tuning steps."""

from __future__ import annotations

import json

from benchmarks import standin_quality
from labs_helpers.settings import KIT_ROOT


def test_a_reused_json_fills_in_models_but_never_this_runs_own_timing(tmp_path):
    common = ["--dataset", str(KIT_ROOT / "data"), "--cache-dir", str(tmp_path / "cache"), "--n-eval", "3"]
    common += ["--kinds", "full", "--train-steps", "2", "--train-examples", "32", "--autocast", "off"]
    first = tmp_path / "first.json"
    assert standin_quality.main([*common, "--out", str(first)]) == 1  # a toy run misses the benchmark's targets
    earlier = json.loads(first.read_text())
    assert len(earlier["predictions"]["full fine-tune"]) == 3
    # pretend an earlier process trained LoRA and took an hour for the full fine-tune
    earlier["predictions"]["LoRA"] = ["#Person1# and #Person2# talk."] * 3
    earlier["fine_tune_seconds"] = {"full fine-tune": 3600.0, "lora fine-tune": 123.0}
    first.write_text(json.dumps(earlier))

    second = tmp_path / "second.json"
    assert standin_quality.main([*common, "--predictions", str(first), "--out", str(second)]) == 1
    merged = json.loads(second.read_text())
    assert merged["predictions"]["LoRA"] == earlier["predictions"]["LoRA"]
    assert merged["fine_tune_seconds"]["lora fine-tune"] == 123.0  # from the earlier run
    assert merged["fine_tune_seconds"]["full fine-tune"] < 3600.0  # timed by this run
    assert merged["lora_gap"] is not None
    assert merged["settings"]["autocast"] == "off"  # fine-tuning's precision is on record
