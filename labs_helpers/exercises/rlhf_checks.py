"""Exercises of notebook 06 (PPO): the KL-penalised per-token reward, the clipped policy loss.

Both are checked against ``labs_helpers.rlhf.ppo_math``, the formulas the kit's PPO trains with.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..rlhf import ppo_math
from .feedback import Feedback, caller, failer

HINTS = {
    "06.1": "Start from -kl_coef * (logprobs - ref_logprobs), zero it where mask is 0, then add each row's score at "
    "its last unmasked position (mask.sum(dim=1) - 1), not at the last column.",
    "06.2": "ratio = exp(logprobs - old_logprobs); the objective is "
    "min(ratio * A, clamp(ratio, 1 - eps, 1 + eps) * A); the loss is minus its mean over the unmasked tokens.",
}
fail = failer(HINTS)
call = caller(fail)


def _batch(seed: int) -> dict[str, torch.Tensor]:
    """Log-probs, advantages and a mask with rows of different lengths (one ends early, as after an EOS)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (3, 6)
    mask = torch.ones(shape)
    mask[0, 4:] = 0.0
    mask[2, 2:] = 0.0
    return dict(
        scores=torch.tensor([1.5, -0.5, 2.0]),
        logprobs=-torch.rand(shape, generator=generator) * 3,
        ref_logprobs=-torch.rand(shape, generator=generator) * 3,
        old_logprobs=-torch.rand(shape, generator=generator) * 3,
        advantages=torch.randn(shape, generator=generator),
        mask=mask,
    )


def _kl_problem(got: torch.Tensor, want: torch.Tensor, b: dict[str, torch.Tensor], kl_coef: float) -> str:
    """What a wrong per-token reward got wrong, as specifically as the cases tell."""
    penalty = -kl_coef * (b["logprobs"] - b["ref_logprobs"])
    at_end = penalty * b["mask"]
    at_end[:, -1] += b["scores"]
    if torch.allclose(got, at_end, atol=1e-5):
        return "you added the score in the last column; a response ends at its first EOS, where its mask ends."
    if torch.allclose(got * b["mask"], want * b["mask"], atol=1e-5):
        return "right on the response, but not zero after the mask: multiply the penalty by the mask."
    flipped = want - 2 * penalty * b["mask"]
    if torch.allclose(got, flipped, atol=1e-5):
        return "the penalty has the wrong sign: it is MINUS kl_coef x (logprobs - ref_logprobs)."
    if torch.allclose(got, want - penalty * b["mask"], atol=1e-5):
        return "only the scores are there: every response token also gets the KL penalty."
    return "the rewards differ from the kit's (ppo_math.kl_penalized_rewards) on a batch of 3 responses."


def check_kl_rewards(function: Callable, seed: int = 0) -> Feedback:
    """Exercise 06.1: per-token rewards with a KL penalty and the score on each response's last token."""
    ex = "06.1"
    for case, kl_coef in ((0, 0.2), (1, 0.05)):
        b = _batch(seed + case)
        args = [b[k].clone() for k in ("scores", "logprobs", "ref_logprobs", "mask")]
        got, problem = call(ex, function, *args, kl_coef)
        if problem is not None:
            return problem
        want, _ = ppo_math.kl_penalized_rewards(b["scores"], b["logprobs"], b["ref_logprobs"], b["mask"], kl_coef)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return fail(ex, f"expected a tensor of shape {tuple(want.shape)} (one reward per token), got {shape}.")
        if not torch.allclose(got.float(), want, atol=1e-5):
            return fail(ex, f"kl_coef={kl_coef}: " + _kl_problem(got.float(), want, b, kl_coef))
    return Feedback(ex, True, "Your rewards match the kit's PPO on responses of different lengths.")


def _loss_problem(got: float, b: dict[str, torch.Tensor], eps: float) -> str:
    """What a wrong clipped loss got wrong, as specifically as the cases tell."""
    ratio = torch.exp(b["logprobs"] - b["old_logprobs"])
    adv, mask = b["advantages"], b["mask"]
    unclipped = -(ratio * adv * mask).sum() / mask.sum()
    clipped = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - eps, 1 + eps))
    optimistic = torch.min(-adv * ratio, -adv * torch.clamp(ratio, 1 - eps, 1 + eps))
    guesses = {
        "you did not clip the ratio: PPO's loss ignores gains from moving it beyond 1 +- cliprange.": unclipped,
        "the objective has the wrong sign: return the LOSS, minus the objective.": -ppo_math.masked_mean(clipped, mask),
        "you took the optimistic bound: the objective is the MIN of the two (the loss the max).": ppo_math.masked_mean(
            optimistic, mask
        ),
        "you averaged over every position: average over the unmasked response tokens only.": clipped.mean(),
    }
    for message, value in guesses.items():
        if abs(got - float(value)) < 1e-5:
            return message
    return "the loss differs from the kit's (ppo_math.policy_loss)."


def check_clipped_loss(function: Callable, seed: int = 0) -> Feedback:
    """Exercise 06.2: PPO's clipped surrogate loss over the response tokens."""
    ex = "06.2"
    for case, eps in ((0, 0.2), (2, 0.1)):
        b = _batch(seed + case)
        args = [b[k].clone() for k in ("logprobs", "old_logprobs", "advantages", "mask")]
        got, problem = call(ex, function, *args, eps)
        if problem is not None:
            return problem
        want, _ = ppo_math.policy_loss(b["logprobs"], b["old_logprobs"], b["advantages"], b["mask"], eps)
        try:
            value = float(got)
        except (TypeError, ValueError, RuntimeError):
            return fail(ex, f"expected one number (a scalar tensor), got {type(got).__name__}.")
        if abs(value - float(want)) > 1e-5:
            found = f"cliprange={eps}: {value:.5f} instead of {float(want):.5f}: "
            return fail(ex, found + _loss_problem(value, b, eps))
    return Feedback(ex, True, "Your loss matches the kit's PPO, with the clip active on some tokens.")
