"""Notebook 06's measured comparison in one call, for ``benchmarks/rlhf_quality.py``: one seed, one table.

The same steps as the notebook's section 13: on the slice's held-out dialogues, the starting policy
("before"), best-of-n from it, PPO and DPO (each from a fresh copy of the starting policy, trained on
the slice's train part with the same reward), each summary sampled with the same seed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .dpo import DPOConfig, make_pairs, train_dpo
from .rivals import Method, best_of_n, best_of_n_kl, rival_table, sample_with_kl

BEST_OF = (4, 16)


@dataclasses.dataclass(frozen=True)
class ArenaPlan:
    """One seed of the comparison: PPO's budget, DPO's settings, the n of best-of-n, the summary length."""

    seed: int
    ppo_steps: int
    ppo_lr: float
    ppo_batch_size: int
    max_new_tokens: int
    n_eval: int  # held-out dialogues evaluated (the first n_eval of the slice's held-out part)
    dpo: DPOConfig = dataclasses.field(default_factory=DPOConfig)
    best_of: tuple[int, ...] = BEST_OF
    reference: str = "instruct"


def _timed(name: str, generations: int, run: Callable[[], tuple[list[str], float]]) -> Method:
    started = time.perf_counter()
    summaries, kl = run()
    return Method(name, summaries, kl, generations, time.perf_counter() - started)


def run_arena(
    plan: ArenaPlan, policy_for: Callable[[], Any], tokenizer: Any, part: Any, reward_model: Any, judge: Any
) -> tuple[Any, list[Method]]:
    """(the table, its methods): before, best-of-n, PPO and DPO on ``part`` (a ``ToxicSlice``), one seed."""
    import torch

    from .data import query_tensors
    from .loop import train_ppo
    from .ppo import PPOConfig, PPOTrainer

    held, train = query_tensors(part.held_out, plan.n_eval), query_tensors(part.train)
    budget = plan.ppo_steps * plan.ppo_batch_size  # PPO's rollouts: DPO samples as many summaries for its pairs
    length, seed, n = plan.max_new_tokens, plan.seed, len(held)
    start = policy_for()
    methods = [_timed("before", n, lambda: sample_with_kl(start, tokenizer, held, length, seed))]
    for k in plan.best_of:
        pick = lambda k=k: (best_of_n(start, tokenizer, held, reward_model, k, length, seed), best_of_n_kl(k))  # noqa: E731
        methods.append(_timed(f"best-of-{k}", k * n, pick))

    def ppo() -> tuple[list[str], float]:
        config = PPOConfig(learning_rate=plan.ppo_lr, batch_size=plan.ppo_batch_size)
        policy = policy_for()
        trainer = PPOTrainer(config, policy, tokenizer)
        torch.manual_seed(seed)
        train_ppo(trainer, reward_model.rewards, train, plan.ppo_steps, length, seed=seed)
        return sample_with_kl(policy, tokenizer, held, length, seed)

    def dpo() -> tuple[list[str], float]:
        policy = policy_for()
        pairs, _ = make_pairs(policy, tokenizer, train, reward_model, length, seed, count=budget // 2)
        train_dpo(policy, pairs, plan.dpo, seed)
        return sample_with_kl(policy, tokenizer, held, length, seed)

    methods.append(_timed("PPO", budget + n, ppo))
    methods.append(_timed("DPO", 2 * (budget // 2) + n, dpo))
    references = list(part.held_out["summary"])[: len(held)]
    table = rival_table(methods, references, reward_model, judge, seed=seed)
    return table, methods


def policy_factory(model_name: str, adapter: str | Path, reference: str, device: str) -> Callable[[], Any]:
    """A function that builds a fresh starting policy each call (the model with the adapter, as PPO starts)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from .policy import build_policy

    def build() -> Any:
        base = AutoModelForSeq2SeqLM.from_pretrained(model_name, dtype=torch.float32)
        return build_policy(base, adapter, reference=reference).to(device)

    return build
