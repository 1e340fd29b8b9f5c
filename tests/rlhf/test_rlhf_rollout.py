"""Rollouts with a real tokenizer: right padding, text queries, and one PPO step end to end on the stand-in."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_lora_config, tiny_t5

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import (
    PPOConfig,
    PPOTrainer,
    ProfanityCheckReward,
    build_policy,
    decoder_inputs,
    encode_queries,
    pad_right,
    reference_logprobs,
    sample_responses,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_encode_queries_pads_on_the_right_even_for_a_left_padding_tokenizer(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    tokenizer.padding_side = "left"
    try:
        ids, mask = encode_queries(tokenizer, ["Summarize the following conversation.", "Hi."])
    finally:
        tokenizer.padding_side = "right"
    assert mask[:, 0].all() and not mask[1].all()  # real tokens first, padding last
    n = int(mask[1].sum())
    assert ids[1, n - 1] == tokenizer.eos_token_id and (ids[1, n:] == tokenizer.pad_token_id).all()


def test_pad_right_and_decoder_inputs():
    ids, mask = pad_right([torch.tensor([4, 5, 1]), torch.tensor([6, 1])], pad_id=0)
    assert ids.tolist() == [[4, 5, 1], [6, 1, 0]] and mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    with pytest.raises(LabsError, match="at least one"):
        pad_right([], 0)
    assert decoder_inputs(tiny_t5(32), torch.tensor([[7, 8, 1]])).tolist() == [[0, 7, 8]]  # start id, shifted


def test_sampling_and_reference_reject_bad_input():
    model = tiny_t5(32)
    ids, mask = pad_right([torch.tensor([4, 5, 1])], 0)
    with pytest.raises(LabsError, match="min_new_tokens=5, max_new_tokens=3"):
        sample_responses(model, ids, mask, max_new_tokens=3, min_new_tokens=5)
    with pytest.raises(LabsError, match="disable_adapter"):
        reference_logprobs(model, ids, mask, torch.tensor([[6, 1]]))


def test_one_ppo_step_on_the_standin_with_text_queries_and_the_offline_reward(standin_path, tmp_path):
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    lab2 = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(standin_path), tiny_lora_config())
    lab2.save_pretrained(tmp_path / "lab2")
    policy = build_policy(AutoModelForSeq2SeqLM.from_pretrained(standin_path), tmp_path / "lab2", "instruct")
    trainer = PPOTrainer(PPOConfig(batch_size=4, mini_batch_size=2), policy, tokenizer)
    reward = ProfanityCheckReward()
    torch.manual_seed(0)
    rollout = trainer.generate(
        ["Summarize the following conversation.\n\n#Person1#: Hi.\n\nSummary: "] * 4, max_new_tokens=6
    )
    assert len(rollout.texts) == 4 and all(isinstance(t, str) for t in rollout.texts)
    assert (rollout.response_mask.sum(1) >= 5).all()  # min_new_tokens=5 by default
    stats = trainer.step(rollout, reward.rewards(rollout.texts))
    assert stats["objective/kl"] == 0.0  # fresh adapter on top of the merged summarizer
    assert stats["ppo/mean_scores"] == pytest.approx(sum(reward.rewards(rollout.texts)) / 4)


def test_sampling_ignores_a_repetition_guard_in_the_generation_config():
    model = tiny_t5(32)
    model.generation_config.no_repeat_ngram_size = 1  # would forbid any token twice
    ids, mask = pad_right([torch.tensor([4, 5, 1])] * 2, 0)
    torch.manual_seed(0)
    rollout = sample_responses(model, ids, mask, max_new_tokens=40, min_new_tokens=40)
    for row in rollout.response_ids:  # 40 tokens from a vocabulary of 32: repeats, as the policy drew them
        assert len(set(row.tolist())) < len(row)
