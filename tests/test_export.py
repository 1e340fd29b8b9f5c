"""Sizes on disk and the int8 copy for CPU inference."""

import warnings

import torch

from labs_helpers.export import format_bytes, quantize_int8, size_on_disk, state_dict_bytes, weights_size


def test_quantize_int8_is_smaller_and_still_generates(model_and_tokenizer):
    from labs_helpers.evaluation import summarize_dialogues

    model, tokenizer = model_and_tokenizer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's deprecation of quantized tensors must not reach notebook 04
        quantized = quantize_int8(model)
    assert isinstance(model.encoder.block[0].layer[0].SelfAttention.q, torch.nn.Linear)  # original untouched
    assert (
        type(quantized.encoder.block[0].layer[0].SelfAttention.q).__name__ == "Linear"
        and "quantized" in type(quantized.encoder.block[0].layer[0].SelfAttention.q).__module__
    )
    assert state_dict_bytes(quantized) < 0.75 * state_dict_bytes(model)
    texts = summarize_dialogues(quantized, tokenizer, ["#Person1#: Hello. #Person2#: Hi."], max_new_tokens=5)
    assert len(texts) == 1 and isinstance(texts[0], str)


def test_sizes(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1500)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x" * 500)
    assert size_on_disk(tmp_path) == 2000 and size_on_disk(tmp_path / "a") == 1500
    (tmp_path / "model.safetensors").write_bytes(b"w" * 300)
    (tmp_path / "tokenizer.json").write_bytes(b"t" * 100)
    assert weights_size(tmp_path) == 300
    assert [format_bytes(n) for n in (999, 1500, 2_500_000, 3_000_000_000)] == ["999 B", "1.5 KB", "2.5 MB", "3.0 GB"]
