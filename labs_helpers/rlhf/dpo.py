"""DPO (direct preference optimization) for encoder-decoder policies, in the kit's own code.

trl's DPO is dropping encoder-decoder models, and the loss is short (Rafailov et al. 2023)::

    loss = -log sigmoid(beta * ((log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))))

with log-probabilities summed over each response's tokens. The reference is PPO's: the same peft
policy with its adapter disabled. Pairs come from the starting policy: two sampled summaries per
dialogue, the one the reward model scores higher is *chosen*; a pair whose two summaries get the
same reward carries no preference and is left out (``make_pairs`` says how many).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

import torch

from ..errors import LabsError
from .rollout import dropout_off, pad_right, policy_forward, reference_logprobs, sample_responses


@dataclasses.dataclass
class DPOConfig:
    """DPO's settings: the KL strength ``beta``, the learning rate, passes over the pairs, pairs per update."""

    beta: float = 0.1
    learning_rate: float = 1e-3
    epochs: int = 2
    batch_size: int = 8
    max_grad_norm: float | None = 1.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LabsError(f"DPOConfig({name}={value!r}): use a whole number of 1 or more.")
        if not self.beta > 0 or not self.learning_rate > 0:
            raise LabsError(
                f"DPOConfig(beta={self.beta!r}, learning_rate={self.learning_rate!r}): use positive numbers "
                "(e.g. beta 0.1)."
            )


@dataclasses.dataclass
class Preference:
    """One pair: a query and two sampled responses (ids up to their EOS), the chosen one rewarded higher."""

    query_ids: torch.Tensor
    chosen_ids: torch.Tensor
    rejected_ids: torch.Tensor
    chosen_reward: float
    rejected_reward: float

    def __post_init__(self) -> None:
        if not self.chosen_reward > self.rejected_reward:
            raise LabsError(
                f"A pair's chosen summary has reward {self.chosen_reward:.4g}, its rejected one "
                f"{self.rejected_reward:.4g}: the chosen one must score strictly higher; leave out ties "
                "(make_pairs does)."
            )


def _rows(rollout: Any) -> list[torch.Tensor]:
    lengths = rollout.response_mask.sum(dim=1).long().tolist()
    return [rollout.response_ids[i, :n] for i, n in enumerate(lengths)]


def make_pairs(
    model: Any,
    tokenizer: Any,
    queries: Sequence[torch.Tensor],
    reward_model: Any,
    max_new_tokens: int,
    seed: int,
    count: int | None = None,
) -> tuple[list[Preference], int]:
    """(pairs, ties left out): two sampled summaries per query (``count`` queries, cycling), ranked by the reward."""
    if not queries:
        raise LabsError("No queries to make pairs from: pass the slice's training queries.")
    if count is not None:
        if count < 1:
            raise LabsError(f"count={count}: make at least one pair.")
        queries = [queries[i % len(queries)] for i in range(count)]  # equal compute: as many as PPO's budget
    torch.manual_seed(seed)
    pairs, ties, pad = [], 0, int(model.config.pad_token_id)
    for start in range(0, len(queries), 16):
        batch = list(queries[start : start + 16])
        ids, mask = pad_right(batch, pad)
        first, second = (sample_responses(model, ids, mask, max_new_tokens, 5, tokenizer) for _ in range(2))
        rewards = [reward_model.rewards(r.texts) for r in (first, second)]
        for i, (a, b) in enumerate(zip(_rows(first), _rows(second))):
            ra, rb = rewards[0][i], rewards[1][i]
            if ra == rb:
                ties += 1
                continue
            (chosen, rc), (rejected, rr) = sorted([(a, ra), (b, rb)], key=lambda p: p[1], reverse=True)
            pairs.append(Preference(batch[i], chosen, rejected, float(rc), float(rr)))
    if not pairs:
        raise LabsError(
            f"All {ties} pairs got the same reward for both summaries: no preference to learn; use a slice where "
            "the reward varies (rlhf.toxic_slice) or more dialogues."
        )
    return pairs, ties


def sequence_logprobs(model: Any, queries: Sequence[torch.Tensor], responses: Sequence[torch.Tensor]) -> torch.Tensor:
    """Log-probability of each whole response (summed over its tokens) under ``model``, one per pair."""
    pad = int(model.config.pad_token_id)
    query_ids, query_mask = pad_right(list(queries), pad)
    response_ids, response_mask = pad_right(list(responses), pad)
    logp, _ = policy_forward(model, None, query_ids, query_mask, response_ids)
    return (logp * response_mask.to(logp.device)).sum(dim=1)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean DPO loss, implicit reward margins ``beta * (chosen log-ratio - rejected log-ratio)``)."""
    margins = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -torch.nn.functional.logsigmoid(margins).mean(), margins.detach()


def _reference(model: Any, pairs: Sequence[Preference], side: str) -> torch.Tensor:
    pad = int(model.config.pad_token_id)
    query_ids, query_mask = pad_right([p.query_ids for p in pairs], pad)
    response_ids, response_mask = pad_right([getattr(p, side) for p in pairs], pad)
    logp = reference_logprobs(model, query_ids, query_mask, response_ids)
    return (logp * response_mask.to(logp.device)).sum(dim=1)


def train_dpo(model: Any, pairs: Sequence[Preference], config: DPOConfig, seed: int) -> list[dict[str, float]]:
    """Train the LoRA weights of ``model`` on ``pairs``; one dict per update (loss, accuracy, margin)."""
    if not hasattr(model, "disable_adapter"):
        raise LabsError("DPO's reference is the policy with its adapter disabled: build it with rlhf.build_policy.")
    if len(pairs) < config.batch_size:
        raise LabsError(f"{len(pairs)} pairs cannot fill one batch of {config.batch_size}: lower batch_size.")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.learning_rate)
    ref = {side: _reference(model, pairs, side) for side in ("chosen_ids", "rejected_ids")}
    order, rng, history = list(range(len(pairs))), random.Random(seed), []
    with dropout_off(model):
        for epoch in range(config.epochs):
            rng.shuffle(order)
            for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
                rows = order[start : start + config.batch_size]
                stats = _update(model, [pairs[i] for i in rows], ref, rows, config, optimizer, params)
                history.append({"epoch": float(epoch)} | stats)
    return history


def _update(
    model: Any, batch: list[Preference], ref: dict, rows: list[int], config: DPOConfig, optimizer: Any, params: list
) -> dict[str, float]:
    """One optimizer step on one mini-batch of pairs; LabsError (nothing changed) when the loss is not finite."""
    queries = [p.query_ids for p in batch]
    chosen = sequence_logprobs(model, queries, [p.chosen_ids for p in batch])
    rejected = sequence_logprobs(model, queries, [p.rejected_ids for p in batch])
    loss, margins = dpo_loss(chosen, rejected, ref["chosen_ids"][rows], ref["rejected_ids"][rows], config.beta)
    if not bool(torch.isfinite(loss)):
        raise LabsError(
            "The DPO loss is not finite (NaN or infinite): the run stops and nothing is saved; lower the "
            "learning rate (--lr) or beta (--beta)."
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
    optimizer.step()
    loss, margins = loss.detach(), margins.detach()
    return {"loss": float(loss), "accuracy": float((margins > 0).float().mean()), "margin": float(margins.mean())}
