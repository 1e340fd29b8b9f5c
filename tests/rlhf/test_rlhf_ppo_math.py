"""PPO arithmetic against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import ppo_math as pm


def close(actual, expected, tol=1e-6):
    return torch.allclose(
        torch.as_tensor(actual, dtype=torch.float32), torch.as_tensor(expected, dtype=torch.float32), atol=tol
    )


def test_response_mask_stops_after_first_eos_and_ignores_pad_ids():
    eos = 1
    responses = torch.tensor(
        [
            [5, 1, 7, 1],  # EOS at 1: keep it, drop what follows (even another EOS)
            [1, 0, 0, 0],  # EOS first
            [4, 5, 6, 7],  # no EOS: the whole row counts
            [0, 0, 1, 0],
        ]
    )  # pad id (= T5's decoder start) BEFORE the EOS still counts
    expected = [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0]]
    assert pm.response_mask(responses, eos).tolist() == expected


def test_response_mask_rejects_1d_input():
    with pytest.raises(LabsError, match="2-D"):
        pm.response_mask(torch.tensor([1, 2]), 1)


def test_token_logprobs_picks_the_token_column():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]]))
    assert close(pm.token_logprobs(logits, torch.tensor([[1, 2]])), [[math.log(0.25), math.log(0.8)]])


def test_masked_mean_var_and_whiten():
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    assert close(pm.masked_mean(values, mask), 2.0)
    assert close(pm.masked_var(values, mask), 1.0)  # unbiased: ((1 + 0 + 1) / 3) * 3 / 2
    assert close(pm.masked_whiten(values, mask)[0, :3], [-1.0, 0.0, 1.0], tol=1e-4)
    assert close(pm.masked_mean(values, mask, dim=1), [2.0])


def test_masked_var_needs_two_tokens():
    with pytest.raises(LabsError, match="variance"):
        pm.masked_var(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0]]))


def test_kl_penalized_rewards_put_the_score_on_the_last_counted_token():
    logp = torch.tensor([[-1.0, -2.0, -3.0]])
    ref = torch.tensor([[-1.5, -2.0, -1.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    rewards, kl = pm.kl_penalized_rewards(torch.tensor([2.0]), logp, ref, mask, kl_coef=0.5)
    assert close(kl, [[0.5, 0.0, 0.0]])
    assert close(rewards, [[-0.25, 2.0, 0.0]])  # -0.5 * 0.5; then 0 + score; masked token: 0


def test_gae_matches_hand_computation():
    rewards = torch.tensor([[0.0, 0.0, 3.0]])
    values = torch.tensor([[0.5, 1.0, 2.0]])
    mask = torch.ones(1, 3)
    advantages, returns = pm.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # t=2: 3 - 2 = 1; t=1: 0.9*2 - 1 = 0.8, + 0.45*1 = 1.25; t=0: 0.9*1 - 0.5 = 0.4, + 0.45*1.25 = 0.9625
    assert close(advantages, [[0.9625, 1.25, 1.0]])
    assert close(returns, [[1.4625, 2.25, 3.0]])


def test_gae_ignores_everything_after_the_mask():
    rewards = torch.tensor([[1.0, 2.0, 99.0]])
    values = torch.tensor([[0.5, 1.0, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    advantages, returns = pm.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    # t=1: 2 + 0 - 1 = 1; t=0: 1 + 1 - 0.5 = 1.5, + 1 = 2.5
    assert close(advantages, [[2.5, 1.0, 0.0]])
    assert close(returns, [[3.0, 2.0, 0.0]])


def test_policy_loss_clips_as_by_hand():
    old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[1.5, 0.5, 1.1]]))  # ratios 1.5, 0.5, 1.1
    advantages = torch.tensor([[1.0, -1.0, 2.0]])
    loss, clipfrac = pm.policy_loss(logp, old, advantages, torch.ones(1, 3), cliprange=0.2)
    # max(-1.5, -1.2) = -1.2 (clipped); max(0.5, 0.8) = 0.8 (clipped); -2.2 (inside the range)
    assert close(loss, (-1.2 + 0.8 - 2.2) / 3)
    assert close(clipfrac, 2 / 3)


def test_value_loss_clips_as_by_hand():
    values = torch.tensor([[1.0, 0.0, 0.6]])
    old = torch.tensor([[0.5, 0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0, 0.6]])
    loss, clipfrac = pm.value_loss(values, old, returns, torch.ones(1, 3), cliprange_value=0.2)
    # clipped values 0.7, 0.3, 0.6: max(1, 1.69) = 1.69; max(0, 0.09) = 0.09; 0
    assert close(loss, 0.5 * (1.69 + 0.09 + 0.0) / 3)
    assert close(clipfrac, 2 / 3)


def test_adaptive_kl_controller_matches_trl_formula():
    controller = pm.AdaptiveKLController(0.2, target=6, horizon=10_000)
    controller.update(12.0, n_steps=16)  # error clipped to +0.2
    assert controller.value == pytest.approx(0.2 * (1 + 0.2 * 16 / 10_000))
    controller = pm.AdaptiveKLController(0.2, target=6, horizon=10_000)
    controller.update(6.6, n_steps=16)  # error 0.1
    assert controller.value == pytest.approx(0.2 * (1 + 0.1 * 16 / 10_000))
    controller.update(0.0, n_steps=10_000)  # error clipped to -0.2
    assert controller.value == pytest.approx(0.2 * (1 + 0.1 * 16 / 10_000) * 0.8)


def test_fixed_kl_controller_never_moves():
    controller = pm.FixedKLController(0.2)
    controller.update(100.0, n_steps=16)
    assert controller.value == 0.2
