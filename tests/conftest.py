"""Shared fixtures: the dataset in use (../shared/dialogsum when present, else the sample) and
one instant stand-in built per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labs_helpers.settings import KIT_ROOT, SAMPLE_DATA, make_settings

SHARED = (KIT_ROOT.parent / "shared" / "dialogsum").resolve()


def dataset_dir() -> Path:
    """The folder tests load: LABS_DATASET, else ../shared/dialogsum, else the kit's sample."""
    if os.environ.get("LABS_DATASET"):
        return Path(os.environ["LABS_DATASET"])
    return SHARED if SHARED.is_dir() else SAMPLE_DATA


@pytest.fixture(scope="session")
def dataset():
    from labs_helpers import load_dialogsum

    return load_dialogsum(dataset_dir())


@pytest.fixture(scope="session")
def sample():
    from labs_helpers import load_dialogsum

    return load_dialogsum(SAMPLE_DATA)


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    """Offline settings with a private cache and run folder."""
    root = tmp_path_factory.mktemp("labs")
    return make_settings(
        {
            "LABS_PROFILE": "offline",
            "LABS_STANDIN": "instant",
            "LABS_DATASET": str(dataset_dir()),
            "LABS_CACHE": str(root / "cache"),
            "LABS_RUN_DIR": str(root / "run"),
            "LABS_DEVICE": "cpu",
            "LABS_AUTOCAST": "off",  # the same arithmetic on every CI machine, native bf16 or not
        }
    )


@pytest.fixture(scope="session")
def standin_path(settings, dataset) -> str:
    from labs_helpers import resolve_model

    return resolve_model(settings, dataset)


@pytest.fixture(scope="session")
def model_and_tokenizer(standin_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path, dtype="float32").eval()
    return model, tokenizer


@pytest.fixture
def cli_env(settings, standin_path, monkeypatch, tmp_path):
    """The kit's settings for a CLI test: offline, the session's stand-in cache, a private run folder."""
    from labs_helpers.settings import get_settings

    for name, value in {
        "LABS_PROFILE": "offline",
        "LABS_STANDIN": "instant",
        "LABS_DATASET": settings.dataset,
        "LABS_CACHE": str(settings.cache_dir),
        "LABS_RUN_DIR": str(tmp_path / "runs"),
        "LABS_DEVICE": "cpu",
        "LABS_DTYPE": "float32",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LABS_MODEL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def one_thread():
    """One torch thread for the test: on tiny tensors it is faster than two on a shared CPU, same numbers."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
