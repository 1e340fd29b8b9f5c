"""PPO for encoder-decoder policies (FLAN-T5 + LoRA), in the kit's own code.

trl no longer has a seq2seq PPO (its step-API ``PPOTrainer`` ended with trl 0.11.4), so this is a
compact re-implementation of that trainer's algorithm for the course's Lab 3::

    trainer = PPOTrainer(PPOConfig(), policy, tokenizer)      # policy from build_policy(...)
    rollout = trainer.generate(query_texts, max_new_tokens=64)  # batch_size queries
    stats = trainer.step(rollout, scores)                       # one score per response
    print(stats["objective/kl"], stats["ppo/returns/mean"], stats["ppo/policy/advantages_mean"])

The course's lab pins trl at commit 25fa1bd (version 0.4.2.dev0, not 0.11). Where the kit differs
from it: trl whitens the advantages per mini-batch of 4 inside its loss (the kit: over the batch of
16); trl leaves the first generated token out of the response mask (the kit counts it); trl puts
dropout 0.1 on the value head and keeps the policy's dropout on (the kit: dropout off in rollouts and
training, so the first PPO ratio is exactly 1); trl clips no gradients (``max_grad_norm`` None), the
kit clips at 1.0 (see ``PPOConfig``). As in trl for peft models, the reference is the policy with its
adapter disabled; encoder inputs are padded on the right.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import torch

from .. import course
from ..errors import LabsError
from . import ppo_math as pm
from .policy import ValueHead, check_seq2seq, trainable_parameters, value_head_for
from .rollout import (
    Rollout,
    dropout_off,
    encode_queries,
    pad_right,
    policy_forward,
    reference_logprobs,
    sample_responses,
)


@dataclasses.dataclass
class PPOConfig:
    """PPO settings: trl 0.4.2.dev0's defaults with the lab's four choices, except ``max_grad_norm`` (see below)."""

    learning_rate: float = course.PPO_LEARNING_RATE
    ppo_epochs: int = 1
    mini_batch_size: int = course.PPO_MINI_BATCH_SIZE
    batch_size: int = course.PPO_BATCH_SIZE
    init_kl_coef: float = 0.2
    adaptive_kl: bool = True
    target: float = 6.0  # the KL the adaptive controller aims at
    horizon: int = 10_000
    gamma: float = 1.0
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    # A departure: the lab's trl clips no gradients (None); the kit clips at 1.0 because its offline
    # profile trains at 1e-3, 70 times the lab's rate. PPOConfig(max_grad_norm=None) is the lab's.
    max_grad_norm: float | None = 1.0
    whiten_advantages: bool = True

    def __post_init__(self) -> None:
        for name in ("ppo_epochs", "mini_batch_size", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LabsError(f"PPOConfig({name}={value!r}): use a whole number of 1 or more.")
        if self.batch_size % self.mini_batch_size:
            raise LabsError(
                f"PPOConfig(batch_size={self.batch_size}, mini_batch_size={self.mini_batch_size}): "
                f"batch_size must be a multiple of mini_batch_size (the lab: {course.PPO_BATCH_SIZE} and "
                f"{course.PPO_MINI_BATCH_SIZE})."
            )
        if not self.learning_rate > 0:
            raise LabsError(
                f"PPOConfig(learning_rate={self.learning_rate!r}): use a positive number "
                f"(the lab: {course.PPO_LEARNING_RATE:g})."
            )


def _check_finite(name: str, value: torch.Tensor) -> None:
    if not bool(torch.isfinite(value).all()):
        raise LabsError(
            f"{name} is not finite (NaN or infinite): nothing was updated or saved; check the reward "
            "function's outputs and lower the learning rate."
        )


class PPOTrainer:
    """Trains a peft seq2seq policy and its value head with PPO; KL to the policy with its adapter disabled."""

    def __init__(
        self, config: PPOConfig, model: Any, tokenizer: Any = None, value_head: ValueHead | None = None
    ) -> None:
        check_seq2seq(model)
        if not hasattr(model, "disable_adapter"):
            raise LabsError(
                f"{type(model).__name__} is not a peft model: build the policy with "
                "labs_helpers.rlhf.build_policy (or get_peft_model) so that the reference is the "
                "same model with its adapter disabled."
            )
        self.config, self.model, self.tokenizer = config, model, tokenizer
        device = next(model.parameters()).device
        self.value_head = (value_head if value_head is not None else value_head_for(model)).to(device)
        self.optimizer = torch.optim.Adam(trainable_parameters(model, self.value_head), lr=config.learning_rate)
        self.kl_controller = (
            pm.AdaptiveKLController(config.init_kl_coef, config.target, config.horizon)
            if config.adaptive_kl
            else pm.FixedKLController(config.init_kl_coef)
        )
        self.steps = 0

    def generate(
        self, queries: Sequence[str] | Sequence[torch.Tensor], max_new_tokens: int, min_new_tokens: int = 5
    ) -> Rollout:
        """Sample one response per query (texts or 1-D id tensors); queries are padded on the right."""
        if queries and isinstance(queries[0], str):
            if self.tokenizer is None:
                raise LabsError("Text queries need a tokenizer: pass tokenizer= to PPOTrainer, or pass id tensors.")
            ids, mask = encode_queries(self.tokenizer, queries)  # type: ignore[arg-type]
        else:
            ids, mask = pad_right(list(queries), int(self.model.config.pad_token_id))  # type: ignore[arg-type]
        return sample_responses(self.model, ids, mask, max_new_tokens, min_new_tokens, self.tokenizer)

    def _check_batch(self, rollout: Rollout, scores: Any) -> torch.Tensor:
        scores = torch.as_tensor(scores, dtype=torch.float32).flatten()
        if len(rollout) != self.config.batch_size or len(scores) != len(rollout):
            raise LabsError(
                f"step() got {len(rollout)} responses and {len(scores)} scores: pass exactly "
                f"batch_size={self.config.batch_size} of each (one score per response)."
            )
        _check_finite("A reward score", scores)
        return scores

    def _score_batch(self, rollout: Rollout, scores: torch.Tensor) -> dict[str, torch.Tensor]:
        """Old log-probs, values, reference log-probs, rewards, advantages and returns (no gradients)."""
        device = next(self.model.parameters()).device
        mask = rollout.response_mask.to(device)
        with torch.no_grad():
            old_logp, old_values = policy_forward(
                self.model, self.value_head, rollout.query_ids, rollout.query_mask, rollout.response_ids
            )
        ref_logp = reference_logprobs(self.model, rollout.query_ids, rollout.query_mask, rollout.response_ids)
        old_values = old_values * mask
        rewards, kl = pm.kl_penalized_rewards(scores.to(device), old_logp, ref_logp, mask, self.kl_controller.value)
        advantages, returns = pm.gae(rewards, old_values, mask, self.config.gamma, self.config.lam)
        if self.config.whiten_advantages:
            advantages = pm.masked_whiten(advantages, mask)
        return dict(
            mask=mask,
            old_logp=old_logp,
            old_values=old_values,
            ref_logp=ref_logp,
            rewards=rewards,
            kl=kl,
            advantages=advantages.detach(),
            returns=returns.detach(),
        )

    def _minibatch_loss(
        self, rollout: Rollout, batch: dict[str, torch.Tensor], rows: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        logp, values = policy_forward(
            self.model, self.value_head, rollout.query_ids[rows], rollout.query_mask[rows], rollout.response_ids[rows]
        )
        mask = batch["mask"][rows]
        pg_loss, pg_clip = pm.policy_loss(
            logp, batch["old_logp"][rows], batch["advantages"][rows], mask, self.config.cliprange
        )
        vf_loss, vf_clip = pm.value_loss(
            values, batch["old_values"][rows], batch["returns"][rows], mask, self.config.cliprange_value
        )
        approx_kl = 0.5 * pm.masked_mean((logp - batch["old_logp"][rows]) ** 2, mask)
        return dict(
            loss=pg_loss + self.config.vf_coef * vf_loss,
            policy=pg_loss,
            value=vf_loss,
            policy_clipfrac=pg_clip,
            value_clipfrac=vf_clip,
            approxkl=approx_kl,
        )

    def _optimize(self, rollout: Rollout, batch: dict[str, torch.Tensor]) -> list[dict[str, float]]:
        """``ppo_epochs`` passes over shuffled mini-batches; one optimizer step per mini-batch."""
        params = trainable_parameters(self.model, self.value_head)
        logs = []
        for _ in range(self.config.ppo_epochs):
            for rows in torch.randperm(len(rollout)).split(self.config.mini_batch_size):
                losses = self._minibatch_loss(rollout, batch, rows)
                _check_finite("The PPO loss", losses["loss"])
                self.optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                if self.config.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
                self.optimizer.step()
                logs.append({k: float(v.detach()) for k, v in losses.items()})
        return logs

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """What PPO updates: the policy's LoRA weights and the value head."""
        return trainable_parameters(self.model, self.value_head)

    def step(self, rollout: Rollout, scores: Any) -> dict[str, float]:
        """One PPO step on a rollout and its scores; returns trl-style statistics (``objective/kl``, ...)."""
        started = time.perf_counter()
        scores = self._check_batch(rollout, scores)
        params = self.trainable_parameters()
        saved = [p.detach().clone() for p in params]
        saved_optimizer = copy.deepcopy(self.optimizer.state_dict())
        kl_coef = self.kl_controller.value
        try:
            with dropout_off(self.model, self.value_head):
                batch = self._score_batch(rollout, scores)
                logs = self._optimize(rollout, batch)
        except LabsError:
            with torch.no_grad():  # a failed step leaves the policy (and Adam's moments) as they were
                for param, before in zip(params, saved):
                    param.copy_(before)
            self.optimizer.load_state_dict(saved_optimizer)
            raise
        mean_kl = float(batch["kl"].sum(dim=1).mean())
        self.kl_controller.update(mean_kl, self.config.batch_size)
        self.steps += 1
        return _statistics(batch, scores, logs, kl_coef, self.kl_controller.value, time.perf_counter() - started)


def _statistics(
    batch: dict[str, torch.Tensor],
    scores: torch.Tensor,
    logs: list[dict[str, float]],
    kl_coef: float,
    next_kl_coef: float,
    seconds: float,
) -> dict[str, float]:
    """The step's statistics, named as trl named them where it had them."""
    mask = batch["mask"]
    non_score = -kl_coef * batch["kl"]

    def mean_of(key: str) -> float:  # over the step's mini-batches
        return sum(log[key] for log in logs) / len(logs)

    return {
        "objective/kl": float(batch["kl"].sum(dim=1).mean()),
        "objective/kl_coef": kl_coef,
        "objective/next_kl_coef": next_kl_coef,
        "objective/logprobs": float(pm.masked_mean(batch["old_logp"], mask)),
        "objective/ref_logprobs": float(pm.masked_mean(batch["ref_logp"], mask)),
        "ppo/mean_scores": float(scores.mean()),
        "ppo/std_scores": float(scores.std()) if len(scores) > 1 else 0.0,
        "env/reward_mean": float(scores.mean()),
        "ppo/mean_non_score_reward": float(non_score.sum(dim=1).mean()),
        "ppo/returns/mean": float(pm.masked_mean(batch["returns"], mask)),
        "ppo/policy/advantages_mean": float(pm.masked_mean(batch["advantages"], mask)),
        "ppo/val/mean": float(pm.masked_mean(batch["old_values"], mask)),
        "ppo/loss/policy": mean_of("policy"),
        "ppo/loss/value": mean_of("value"),
        "ppo/loss/total": mean_of("loss"),
        "ppo/policy/clipfrac": mean_of("policy_clipfrac"),
        "ppo/val/clipfrac": mean_of("value_clipfrac"),
        "ppo/policy/approxkl": mean_of("approxkl"),
        "tokens/response_len_mean": float(mask.sum(dim=1).mean()),
        "time/ppo/step_seconds": seconds,
    }


def is_finite_stats(stats: dict[str, float]) -> bool:
    """True when every statistic of a step is a finite number."""
    return all(math.isfinite(v) for v in stats.values())
