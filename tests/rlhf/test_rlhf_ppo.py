"""PPO on a tiny random T5 with a fresh LoRA adapter: KL, what changes, dropout, bad input, learning."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_policy, tiny_t5

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import (
    PPOConfig,
    PPOTrainer,
    Rollout,
    dropout_off,
    is_finite_stats,
    pad_right,
    policy_forward,
    reference_logprobs,
)
from labs_helpers.rlhf.ppo_math import response_mask

VOCAB = 64
FAST = dict(learning_rate=3e-3, batch_size=8, mini_batch_size=4)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def queries(n: int, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(3, VOCAB, (int(torch.randint(3, 8, (1,), generator=generator)),), generator=generator)
        for _ in range(n)
    ]


def exact_kl(model, rollout: Rollout) -> float:
    """KL(policy || reference) summed over the vocabulary at every counted response position."""
    from labs_helpers.rlhf.rollout import decoder_inputs

    args = dict(
        input_ids=rollout.query_ids,
        attention_mask=rollout.query_mask,
        decoder_input_ids=decoder_inputs(model, rollout.response_ids),
    )
    with torch.no_grad(), dropout_off(model):
        policy = torch.log_softmax(model(**args).logits, -1)
        with model.disable_adapter():
            reference = torch.log_softmax(model(**args).logits, -1)
    per_token = (policy.exp() * (policy - reference)).sum(-1)
    return float((per_token * rollout.response_mask).sum())


def test_config_defaults_are_the_labs():
    config = PPOConfig()
    assert (config.learning_rate, config.ppo_epochs, config.mini_batch_size, config.batch_size) == (1.41e-5, 1, 4, 16)
    assert (config.init_kl_coef, config.target, config.horizon, config.adaptive_kl) == (0.2, 6.0, 10_000, True)
    assert (config.gamma, config.lam, config.cliprange, config.cliprange_value) == (1.0, 0.95, 0.2, 0.2)
    assert (config.vf_coef, config.whiten_advantages) == (0.1, True)


def test_the_one_departure_from_the_labs_defaults_is_named():
    # trl 0.4.2.dev0 (the lab's pin) clips no gradients; the kit clips at 1.0, and says so where the default is.
    import inspect

    from labs_helpers.rlhf import ppo

    assert PPOConfig().max_grad_norm == 1.0 and PPOConfig(max_grad_norm=None).max_grad_norm is None
    assert "max_grad_norm" in PPOConfig.__doc__ and "clips no gradients (None)" in inspect.getsource(ppo)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(batch_size=16, mini_batch_size=5), "multiple of mini_batch_size"),
        (dict(ppo_epochs=0), "ppo_epochs"),
        (dict(learning_rate=0.0), "learning_rate"),
    ],
)
def test_config_rejects_bad_settings(options, message):
    with pytest.raises(LabsError, match=message):
        PPOConfig(**options)


def test_trainer_rejects_a_decoder_only_model():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32))
    with pytest.raises(LabsError, match="not an encoder-decoder"):
        PPOTrainer(PPOConfig(**FAST), gpt2)


def test_trainer_rejects_a_model_without_adapter():
    with pytest.raises(LabsError, match="not a peft model"):
        PPOTrainer(PPOConfig(**FAST), tiny_t5(VOCAB))


def test_rollout_masks_after_the_first_eos_and_pads_queries_on_the_right():
    trainer = PPOTrainer(PPOConfig(**FAST), tiny_policy(VOCAB))
    torch.manual_seed(0)
    rollout = trainer.generate(queries(8), max_new_tokens=6, min_new_tokens=2)
    assert rollout.query_mask[:, 0].all() and len(rollout) == 8  # right padding: every row starts with a token
    for ids, mask in zip(rollout.response_ids.tolist(), rollout.response_mask.tolist()):
        n = int(sum(mask))
        assert n >= 2 and mask == [1.0] * n + [0.0] * (len(mask) - n)
        assert 1 not in ids[: n - 1] and (n == len(ids) or ids[n - 1] == 1)  # stops at (and keeps) the first EOS
        assert all(i == 0 for i in ids[n:])


def test_kl_is_exactly_zero_before_the_first_update_and_positive_after():
    torch.manual_seed(0)
    trainer = PPOTrainer(PPOConfig(learning_rate=1e-2, batch_size=8, mini_batch_size=4), tiny_policy(VOCAB))
    prompts = queries(8)
    rollout = trainer.generate(prompts, max_new_tokens=6, min_new_tokens=0)
    logp, _ = policy_forward(trainer.model, None, rollout.query_ids, rollout.query_mask, rollout.response_ids)
    ref = reference_logprobs(trainer.model, rollout.query_ids, rollout.query_mask, rollout.response_ids)
    assert torch.equal(logp, ref)  # LoRA's B starts at 0: the adapter changes nothing yet
    stats = trainer.step(rollout, torch.linspace(-1, 1, 8))
    assert stats["objective/kl"] == 0.0 and stats["ppo/policy/approxkl"] >= 0.0
    assert exact_kl(trainer.model, rollout) > 0.0
    # Sampled from the updated policy (no min length, so no token is suppressed), the KL estimate is positive.
    fresh = trainer.generate(prompts, max_new_tokens=6, min_new_tokens=0)
    assert trainer.step(fresh, torch.linspace(-1, 1, 8))["objective/kl"] > 0.0


def test_a_step_changes_only_lora_and_value_head_and_reports_statistics():
    torch.manual_seed(1)
    model = tiny_policy(VOCAB)
    model.train()  # dropout on outside: the trainer must switch it off and back
    trainer = PPOTrainer(PPOConfig(**FAST), model)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    head_before = [p.detach().clone() for p in trainer.value_head.parameters()]
    rollout = trainer.generate(queries(8), max_new_tokens=5, min_new_tokens=2)
    stats = trainer.step(rollout, torch.arange(8.0))
    assert model.training  # mode restored
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all("lora_" in name for name in changed)
    assert any(not torch.equal(a, b) for a, b in zip(head_before, trainer.value_head.parameters()))
    for key in (
        "objective/kl",
        "objective/kl_coef",
        "ppo/returns/mean",
        "ppo/policy/advantages_mean",
        "ppo/mean_scores",
        "ppo/loss/policy",
        "ppo/loss/value",
        "ppo/policy/clipfrac",
        "ppo/val/clipfrac",
    ):
        assert key in stats
    assert is_finite_stats(stats) and stats["objective/kl_coef"] == 0.2
    assert abs(stats["ppo/policy/advantages_mean"]) < 1e-5  # whitened
    assert stats["ppo/mean_scores"] == pytest.approx(3.5)


def test_dropout_off_makes_forward_passes_repeatable():
    model = tiny_policy(VOCAB).train()
    ids, mask = pad_right(queries(2), 0)
    response = torch.tensor([[5, 6, 1], [7, 1, 0]])
    with dropout_off(model):
        first, _ = policy_forward(model, None, ids, mask, response)
        second, _ = policy_forward(model, None, ids, mask, response)
    assert torch.equal(first, second) and model.training


def test_step_rejects_wrong_batch_and_non_finite_scores_without_changing_anything():
    torch.manual_seed(2)
    trainer = PPOTrainer(PPOConfig(**FAST), tiny_policy(VOCAB))
    rollout = trainer.generate(queries(8), max_new_tokens=4, min_new_tokens=2)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    with pytest.raises(LabsError, match="batch_size=8"):
        trainer.step(rollout, torch.zeros(7))
    with pytest.raises(LabsError, match="not finite"):
        trainer.step(rollout, torch.tensor([0.0] * 7 + [float("nan")]))
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_a_non_finite_loss_raises_and_restores_the_trainable_weights():
    torch.manual_seed(3)
    trainer = PPOTrainer(PPOConfig(**FAST, ppo_epochs=2), tiny_policy(VOCAB))
    rollout = trainer.generate(queries(8), max_new_tokens=4, min_new_tokens=2)
    trainer.step(rollout, torch.arange(8.0))  # a normal step first, so that LoRA weights are non-zero
    before = [p.detach().clone() for p in trainer.trainable_parameters()]
    original, calls = trainer._minibatch_loss, []

    def nan_on_third_call(*args):  # the loss turns NaN after two optimizer steps of this PPO step
        losses = original(*args)
        calls.append(1)
        return losses | {"loss": losses["loss"] * float("nan")} if len(calls) == 3 else losses

    trainer._minibatch_loss = nan_on_third_call
    with pytest.raises(LabsError, match="not finite"):
        trainer.step(rollout, torch.arange(8.0))
    assert len(calls) == 3
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.trainable_parameters()))
    assert trainer.steps == 1
    # Adam's moments are restored too: only the first step's 2 epochs x 2 mini-batches count
    assert all(float(state["step"]) == 4 for state in trainer.optimizer.state.values())


def test_log_probs_match_the_distribution_generate_samples_from():
    torch.manual_seed(4)
    model = tiny_policy(VOCAB).eval()
    ids, mask = pad_right(queries(4), 0)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            top_k=0,
            top_p=1.0,
            max_new_tokens=6,
            return_dict_in_generate=True,
            output_scores=True,
            eos_token_id=1,
            pad_token_id=0,
        )
    responses = out.sequences[:, 1:]
    sampled = torch.stack([torch.log_softmax(s, -1) for s in out.scores], 1).gather(2, responses.unsqueeze(-1))
    logp, _ = policy_forward(model, None, ids, mask, responses)
    counted = response_mask(responses, 1).bool()
    assert torch.allclose(logp[counted], sampled.squeeze(-1)[counted], atol=1e-5)


def mean_reward(trainer: PPOTrainer, prompts, banned: int, rounds: int = 3) -> float:
    total = 0.0
    for _ in range(rounds):
        rollout = trainer.generate(prompts, max_new_tokens=8, min_new_tokens=8)
        total += float(banned_token_reward(rollout, banned).mean())
    return total / rounds


def banned_token_reward(rollout: Rollout, banned: int) -> torch.Tensor:
    """Share of response tokens that are not ``banned``: 1.0 when the token never appears."""
    mask = rollout.response_mask
    return ((rollout.response_ids != banned).float() * mask).sum(1) / mask.sum(1)


def test_a_short_run_learns_to_avoid_a_penalised_token():
    torch.manual_seed(0)
    trainer = PPOTrainer(PPOConfig(learning_rate=3e-3, ppo_epochs=2), tiny_policy(VOCAB))
    prompts = queries(16, seed=1)
    first = trainer.generate(prompts, max_new_tokens=8, min_new_tokens=8)
    banned = int(torch.mode(first.response_ids.flatten()).values)  # the policy's favourite token
    before = mean_reward(trainer, prompts, banned)
    for _ in range(10):
        rollout = trainer.generate(prompts, max_new_tokens=8, min_new_tokens=8)
        stats = trainer.step(rollout, banned_token_reward(rollout, banned))
        assert is_finite_stats(stats)
    after = mean_reward(trainer, prompts, banned)
    assert after > before + 0.15, (before, after)
