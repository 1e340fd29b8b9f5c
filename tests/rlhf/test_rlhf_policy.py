"""Building the policy from a base model + Lab 2 adapter (both references), the value head, save and load."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_models import tiny_policy, tiny_t5

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import (
    ValueHead,
    build_policy,
    check_adapter_folder,
    freeze_all_but_lora,
    load_policy,
    load_value_head,
    merge_adapter,
    save_policy,
    trainable_parameters,
    value_head_for,
)

VOCAB = 48
INPUTS = dict(
    input_ids=torch.tensor([[5, 9, 13, 1], [7, 8, 1, 0]]),
    attention_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
    decoder_input_ids=torch.tensor([[0, 4, 6], [0, 11, 1]]),
)


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**INPUTS).logits


@pytest.fixture(scope="module")
def lab2_adapter(tmp_path_factory):
    """A saved 'Lab 2' LoRA adapter with non-zero B (so that it changes the model) and its logits."""
    model = tiny_policy(VOCAB, seed=0)
    torch.manual_seed(5)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    folder = tmp_path_factory.mktemp("lab2") / "adapter"
    model.save_pretrained(folder)
    return folder, logits(model)


def test_value_head_has_d_model_plus_one_parameters():
    assert sum(p.numel() for p in ValueHead(768).parameters()) == 769  # the lab's figure for FLAN-T5-base
    head = value_head_for(tiny_t5(VOCAB))
    assert head(torch.zeros(2, 3, 32)).shape == (2, 3)


def test_base_reference_keeps_training_the_lab2_adapter(lab2_adapter, tmp_path):
    folder, lab2_logits = lab2_adapter
    raw_logits = logits(tiny_t5(VOCAB, seed=0))
    policy = build_policy(tiny_t5(VOCAB, seed=0), folder, reference="base")
    assert torch.allclose(logits(policy), lab2_logits, atol=1e-5)
    with policy.disable_adapter():
        assert torch.equal(logits(policy), raw_logits)  # the KL anchor is the model without any adapter
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert policy.labs_reference == "base"
    card = json.loads((save_policy(tmp_path / "saved", policy, ValueHead(32)) / "ppo_policy.json").read_text())
    assert card["reference"] == "base" and card["start_adapter"] == str(folder)


def test_instruct_reference_merges_lab2_and_adds_a_fresh_adapter(lab2_adapter):
    folder, lab2_logits = lab2_adapter
    policy = build_policy(tiny_t5(VOCAB, seed=0), folder, reference="instruct")
    with policy.disable_adapter():
        assert torch.allclose(logits(policy), lab2_logits, atol=1e-5)  # the KL anchor is the summarizer
    assert torch.equal(logits(policy), logits(merge_adapter(tiny_t5(VOCAB, seed=0), folder)))  # fresh B = 0
    saved = json.loads((folder / "adapter_config.json").read_text())
    config = policy.peft_config["default"]
    assert (config.r, config.lora_alpha, sorted(config.target_modules)) == (
        saved["r"],
        saved["lora_alpha"],
        sorted(saved["target_modules"]),
    )
    lora_b = [p for n, p in policy.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.requires_grad and not p.any() for p in lora_b)


def test_build_policy_rejects_bad_input(lab2_adapter, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder, _ = lab2_adapter
    with pytest.raises(LabsError, match="not a peft adapter"):
        build_policy(tiny_t5(VOCAB), tmp_path)
    with pytest.raises(LabsError, match="reference='frozen'"):
        build_policy(tiny_t5(VOCAB), folder, reference="frozen")
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32))
    with pytest.raises(LabsError, match="not an encoder-decoder"):
        build_policy(gpt2, folder)
    with pytest.raises(LabsError, match="not a peft adapter"):
        check_adapter_folder(tmp_path / "missing")


def test_freeze_all_but_lora_needs_lora_parameters():
    with pytest.raises(LabsError, match="no LoRA parameters"):
        freeze_all_but_lora(tiny_t5(VOCAB))
    model = tiny_policy(VOCAB)
    head = ValueHead(32)
    freeze_all_but_lora(model)
    params = trainable_parameters(model, head)
    assert len(params) == sum("lora_" in n for n, _ in model.named_parameters()) + 2


def test_save_and_load_round_trip_and_never_overwrite(tmp_path):
    model, head = tiny_policy(VOCAB, seed=3), ValueHead(32)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.fill_(0.1)
    target = save_policy(tmp_path / "ppo" / "final", model, head, note="test")
    names = {p.name for p in target.iterdir()}
    assert {"adapter_config.json", "value_head.safetensors", "ppo_policy.json"} <= names
    assert json.loads((target / "ppo_policy.json").read_text())["note"] == "test"
    assert not [p for p in target.parent.iterdir() if ".partial-" in p.name]  # nothing half-written left
    loaded, loaded_head = load_policy(tiny_t5(VOCAB, seed=3), target)
    assert torch.allclose(logits(loaded), logits(model), atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(head.parameters(), loaded_head.parameters()))
    with pytest.raises(LabsError, match="not empty"):
        save_policy(target, model, head)
    (tmp_path / "empty").mkdir()
    assert save_policy(tmp_path / "empty", model, head).is_dir()  # an empty folder may be used


def test_a_save_that_fails_halfway_leaves_nothing(tmp_path):
    from labs_helpers.rlhf.policy import save_atomically

    def write(tmp):
        (tmp / "adapter_config.json").write_text("{}")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_atomically(tmp_path / "final", write)
    assert list(tmp_path.iterdir()) == []  # no final/, no .partial- folder


def test_load_value_head_names_what_is_missing(tmp_path):
    with pytest.raises(LabsError, match="value_head.safetensors"):
        load_value_head(tmp_path)
