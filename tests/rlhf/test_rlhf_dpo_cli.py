"""``python -m labs_helpers.train dpo``: notebook 06's DPO as a script, with train ppo's conventions (issue 34)."""

from __future__ import annotations

import json

import pytest

from labs_helpers.train import main


@pytest.fixture
def env(cli_env, standin_path, dataset, monkeypatch):
    """The shared CLI settings with tiny generations, and a LoRA adapter of the stand-in to start from."""
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    from labs_helpers import course

    if len(dataset["train"]) != 12_460:
        pytest.skip("the slice needs the full DialogSum (LABS_DATASET or ../shared/dialogsum)")
    monkeypatch.setenv("LABS_MAX_NEW_TOKENS", "6")
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path)
    get_peft_model(model, course.lora_config(r=4, lora_alpha=4)).save_pretrained(cli_env / "adapter")
    return cli_env


def test_dpo_from_the_command_line_in_a_fresh_run_folder(env, capsys):
    adapter = str(env / "adapter")
    assert main(["dpo", "--adapter", adapter, "--steps", "2", "--batch-size", "8", "--beta", "0.2"]) == 0
    run = env / "runs" / "train" / "dpo-001"
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["pairs"] + summary["ties_left_out"] == 8 and summary["dpo"]["beta"] == 0.2
    assert "alt-profanity-check" in summary["reward_model"] and "held out" in summary["slice"]
    card = json.loads((run / "final" / "dpo_policy.json").read_text())
    assert card["reference"] == "instruct" and (run / "final" / "adapter_config.json").is_file()
    assert (run / "dpo_history.csv").read_text().splitlines()[0] == "update,epoch,loss,accuracy,margin"
    assert main(["dpo", "--adapter", adapter, "--steps", "2", "--batch-size", "8"]) == 0  # a second run: a new folder
    assert sorted(p.name for p in (env / "runs" / "train").iterdir()) == ["dpo-001", "dpo-002"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--resume"], "train dpo cannot --resume"),
        (["--beta", "0"], "argument --beta: must be a number above 0"),
        (["--adapter", "{tmp}/nothing"], "no adapter_config.json"),
        (["--batch-size", "1"], "a batch of 2 or more"),
    ],
)
def test_bad_dpo_input_is_one_sentence_and_leaves_no_run_folder(env, capsys, args, message):
    assert main(["dpo", *[a.format(tmp=env) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1] and "Traceback" not in err
    assert not (env / "runs" / "train").exists() or not any((env / "runs" / "train").iterdir())


def test_a_non_finite_dpo_loss_publishes_nothing(env, capsys, monkeypatch):
    import torch

    from labs_helpers.rlhf import dpo

    monkeypatch.setattr(dpo, "dpo_loss", lambda *a: (torch.tensor(float("nan")), torch.zeros(1)))
    assert main(["dpo", "--adapter", str(env / "adapter"), "--steps", "2", "--batch-size", "8"]) == 2
    assert "not finite" in capsys.readouterr().err
    runs = list((env / "runs" / "train").glob("dpo-*"))
    assert all(not (run / "final").exists() and not (run / "train_summary.json").exists() for run in runs)
