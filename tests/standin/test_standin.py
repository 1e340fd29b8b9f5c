import json
from pathlib import Path

import pytest
import torch

from labs_helpers.standin import cache, instant
from labs_helpers.standin.tokenizer import VOCAB_SIZE


def test_flan_t5_token_layout(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    assert model.config.decoder_start_token_id == 0
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") > 2
    assert tokenizer("Hello there.").input_ids[-1] == 1  # </s> appended, as FLAN-T5 does


def test_t5_architecture(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    assert type(model).__name__ == "T5ForConditionalGeneration"
    assert model.config.feed_forward_proj == "gated-gelu" and model.config.is_gated_act
    assert not model.config.scale_decoder_outputs  # T5 v1.1 / FLAN-T5: logits are not rescaled
    names = {name.split(".")[-1] for name, _ in model.named_modules()}
    assert {"q", "k", "v", "o", "wi_0", "wi_1", "wo"} <= names
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)


def test_tokenizer_folds_newlines_like_flan_t5(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    assert tokenizer("a\nb").input_ids == tokenizer("a b").input_ids


def test_generates_through_auto_classes(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    inputs = tokenizer(["#Person1#: Hi.\n#Person2#: Hello."], return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=5)
    assert out.shape[0] == 1 and out[0, 0].item() == 0  # starts from the decoder start token


def test_build_is_deterministic_and_cached(tmp_path, dataset):
    texts = instant.training_texts(dataset)[:400]
    a = instant.build_instant(texts, tmp_path / "a", seed=3)
    b = instant.build_instant(texts, tmp_path / "b", seed=3)
    for name in ("model.safetensors", "tokenizer.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert cache.is_complete(a)


def test_cache_key_covers_data_and_seed():
    key = cache.cache_key("instant", cache.fingerprint(["x"]), 1)
    assert key != cache.cache_key("instant", cache.fingerprint(["y"]), 1)
    assert key != cache.cache_key("instant", cache.fingerprint(["x"]), 2)
    assert key != cache.cache_key("pretrained", cache.fingerprint(["x"]), 1)


def test_half_written_folder_is_rebuilt_not_loaded(tmp_path, dataset):
    folder = tmp_path / "standin"
    folder.mkdir()
    (folder / "config.json").write_text("{ half written")  # an interrupted build, no marker
    assert not cache.is_complete(folder)
    instant.build_instant(instant.training_texts(dataset)[:200], folder, seed=0)
    assert cache.is_complete(folder)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "t5"


def test_failed_build_leaves_no_partial_folder(tmp_path, monkeypatch):
    def boom(texts, vocab_size=VOCAB_SIZE):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(instant, "train_tokenizer", boom)
    with pytest.raises(RuntimeError):
        instant.build_instant(["a b c"], tmp_path / "s", seed=0)
    assert list(tmp_path.iterdir()) == []


def test_resolve_model_reuses_the_cache(settings, dataset, standin_path):
    from labs_helpers import resolve_model

    marker = cache.COMPLETE_MARKER
    stamp = (Path(standin_path) / marker).stat().st_mtime_ns
    assert resolve_model(settings, dataset) == standin_path
    assert (Path(standin_path) / marker).stat().st_mtime_ns == stamp


def test_a_given_model_id_is_passed_through(monkeypatch):
    from transformers import T5Config

    from labs_helpers import models, resolve_model
    from labs_helpers.settings import make_settings

    monkeypatch.setattr(models, "_load_config", lambda model, option: T5Config())  # as if cached: checked, kept
    settings = make_settings({"LABS_PROFILE": "offline", "LABS_MODEL": "google/flan-t5-small"})
    assert resolve_model(settings, None) == "google/flan-t5-small"
