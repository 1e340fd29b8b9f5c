"""Issue #16, class 2: a model that cannot be used gets one sentence, from every door it can come in by.

LABS_MODEL (resolve_model, the environment check of notebook 00) and --model (the training CLI).
"""

import shutil
from pathlib import Path

import pytest

from labs_helpers import LabsError, environment, resolve_model
from labs_helpers.settings import get_settings, make_settings
from labs_helpers.train import main


def _decoder_only(folder: Path, standin: str) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=100, n_positions=32)).save_pretrained(folder)
    shutil.copy(Path(standin) / "tokenizer.json", folder)


def _broken_config(folder: Path, standin: str) -> None:
    shutil.copytree(standin, folder)
    (folder / "config.json").write_text('{"model_type": "t5", ')


def _no_weights(folder: Path, standin: str) -> None:
    shutil.copytree(standin, folder)
    (folder / "model.safetensors").unlink()


CASES = {
    "missing folder": (lambda f, s: None, "{model}: no such folder."),
    "empty folder": (lambda f, s: f.mkdir(), "{model} has no config.json, so it is not a saved model."),
    "broken config.json": (_broken_config, "{model}: config.json is not readable JSON"),
    "no weights": (_no_weights, "{model} has no weights"),
    "decoder-only model": (_decoder_only, "{model} is a decoder-only model (gpt2), but the labs summarize with an "),
}


@pytest.fixture
def offline_hub(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(params=[*CASES, "hub id, no hub, not cached"])
def bad_model(request, tmp_path, standin_path, offline_hub):
    """A model setting that cannot work, and the start of the sentence that must name it."""
    if request.param.startswith("hub id"):
        return "nobody-here/no-such-model", "{model} is not a folder, and the model is neither in the local"
    make, message = CASES[request.param]
    folder = tmp_path / "model"
    make(folder, standin_path)
    return str(folder), message


def test_resolve_model_says_what_is_wrong(bad_model, settings, dataset):
    model, message = bad_model
    bad = make_settings({"LABS_PROFILE": "offline", "LABS_MODEL": model, "LABS_DATASET": settings.dataset})
    with pytest.raises(LabsError) as error:
        resolve_model(bad, dataset)
    assert message.format(model=f"LABS_MODEL={model}") in str(error.value)


def test_the_environment_check_catches_it_before_everything_is_in_place(bad_model, settings, monkeypatch):
    monkeypatch.setattr(environment, "check_packages", lambda: [])
    model, message = bad_model
    bad = make_settings({"LABS_PROFILE": "offline", "LABS_MODEL": model, "LABS_DATASET": settings.dataset})
    text = environment.report(environment.check_environment(bad))
    assert "[FIX] model" in text and message.format(model=f"LABS_MODEL={model}") in text
    assert "Everything is in place." not in text


def test_the_training_cli_refuses_it_and_leaves_no_run_folder(bad_model, settings, monkeypatch, tmp_path, capsys):
    model, message = bad_model
    for name, value in {"LABS_PROFILE": "offline", "LABS_STANDIN": "instant", "LABS_DATASET": settings.dataset}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LABS_CACHE", str(settings.cache_dir))
    monkeypatch.setenv("LABS_RUN_DIR", str(tmp_path / "runs"))
    get_settings.cache_clear()
    try:
        assert main(["full", "--model", model, "--steps", "1"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert message.format(model=f"--model={model}") in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_a_good_model_passes(standin_path, settings):
    from labs_helpers.models import check_model

    assert check_model(standin_path) == standin_path
    good = make_settings({"LABS_PROFILE": "offline", "LABS_MODEL": standin_path, "LABS_DATASET": settings.dataset})
    assert environment.check_model_setting(good).ok
