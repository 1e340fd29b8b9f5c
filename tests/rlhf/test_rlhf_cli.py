"""``python -m labs_helpers.train ppo``: notebook 06's PPO as a script, with tiny budgets on the instant stand-in."""

from __future__ import annotations

import json

import pytest

from labs_helpers.train import main


@pytest.fixture
def env(cli_env, standin_path, monkeypatch):
    """The shared CLI settings with tiny generations, and a LoRA adapter of the stand-in to start from."""
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    from labs_helpers import course

    monkeypatch.setenv("LABS_MAX_NEW_TOKENS", "6")
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path)
    get_peft_model(model, course.lora_config(r=4, lora_alpha=4)).save_pretrained(cli_env / "adapter")
    return cli_env


def test_ppo_from_the_command_line_in_a_fresh_run_folder(env, capsys):
    adapter = str(env / "adapter")
    assert main(["ppo", "--adapter", adapter, "--steps", "1", "--batch-size", "4", "--reference", "base"]) == 0
    assert [p.name for p in (env / "runs" / "train").iterdir()] == ["ppo-001"]
    run = env / "runs" / "train" / "ppo-001"
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 1 and summary["reference"] == "base" and summary["adapter"] == adapter
    assert "alt-profanity-check" in summary["reward_model"]
    card = json.loads((run / "final" / "ppo_policy.json").read_text())
    assert card["reference"] == "base" and (run / "final" / "value_head.safetensors").is_file()
    history = (run / "ppo_history.csv").read_text().splitlines()
    assert len(history) == 2 and "objective/kl" in history[0]
    assert "objective/kl" in capsys.readouterr().out  # the lab's per-step printout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "0"], "argument --steps: must be a whole number of 1 or more"),
        (["--batch-size", "6"], "multiple of mini_batch_size"),
        (["--lr", "-1"], "argument --lr: must be a number above 0"),
        (["--adapter", "{tmp}/nothing"], "no adapter_config.json"),
        (["--adapter", "{tmp}/other"], "not on"),
    ],
)
def test_bad_ppo_input_gets_one_clear_message_and_no_run_folder(env, capsys, args, message):
    other = env / "other"
    other.mkdir()
    (other / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "another/model"}))
    assert main(["ppo", *[a.format(tmp=env) for a in args]]) == 2
    err = capsys.readouterr().err
    # One sentence: ours alone, or argparse's usage followed by its one error line for an option it refuses.
    lines = err.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in err
    assert len(lines) == 1 or (lines[0].startswith("usage:") and lines[-1].startswith("python -m labs_helpers.train"))
    assert not (env / "runs" / "train").exists() or not any((env / "runs" / "train").iterdir())


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--resume"], "train ppo cannot --resume: its run keeps no checkpoints"),
        (["--resume", "{tmp}/adapter"], "train ppo cannot --resume"),
        (["--batch-size", "6"], "PPO batch size 6 (--batch-size, else LABS_PPO_BATCH_SIZE) is not a multiple of"),
        (["--adapter", "{tmp}/cut"], "adapter_model.safetensors cannot be read"),
        (["--adapter", "{tmp}/badjson"], "adapter_config.json is not readable JSON"),
    ],
)
def test_ppo_misuse_is_one_sentence_and_leaves_no_run_folder(env, capsys, args, message):
    """Issue #36: --resume refused, the batch-size message names its setting, a damaged adapter named."""
    import shutil

    for name, damage in (("cut", lambda f: _truncate(f / "adapter_model.safetensors")), ("badjson", None)):
        shutil.copytree(env / "adapter", env / name)
        if damage:
            damage(env / name)
    (env / "badjson" / "adapter_config.json").write_text("{ half")
    assert main(["ppo", *[a.format(tmp=env) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (env / "runs" / "train").exists() or not any((env / "runs" / "train").iterdir())


def test_ppo_into_its_own_finished_run_does_not_suggest_resume(env, capsys):
    adapter = str(env / "adapter")
    tiny = ["--adapter", adapter, "--steps", "1", "--batch-size", "4", "--output-dir", str(env / "ppo-run")]
    assert main(["ppo", *tiny]) == 0
    capsys.readouterr()
    assert main(["ppo", *tiny]) == 2
    err = capsys.readouterr().err
    assert "already holds files" in err and "--resume" not in err


def test_ctrl_c_during_ppo_is_one_line_and_leaves_no_empty_run(env, capsys, monkeypatch):
    import labs_helpers.rlhf.loop as loop

    def press_ctrl_c(step, stats):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "print_step", press_ctrl_c)
    assert main(["ppo", "--adapter", str(env / "adapter"), "--steps", "2", "--batch-size", "4"]) == 130
    assert capsys.readouterr().err.strip() == (
        "labs_helpers.train: Interrupted after 0 of 2 PPO steps: a PPO run keeps no checkpoints, so nothing was "
        "saved as final/; run the command again for a fresh run."
    )
    assert not any((env / "runs" / "train").iterdir())
