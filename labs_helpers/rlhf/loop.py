"""The lab's PPO loop in one call: batches of queries -> sampled summaries -> rewards -> ``PPOTrainer.step``.

Unlike the course's lab, the reward scores the generated summary alone (the lab scored prompt +
dialogue + summary, so the dialogue dominated), and ``max_new_tokens`` may be a range drawn once
per batch (the lab drew it per query, from 100-400 tokens; DialogSum summaries are tens of tokens).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import LabsError
from .ppo import PPOTrainer, is_finite_stats

PRINTED = ("objective/kl", "ppo/returns/mean", "ppo/policy/advantages_mean")  # what the lab printed per step


def query_batches(queries: Sequence[Any], batch_size: int, seed: int = 0) -> Iterator[list[Any]]:
    """Endless shuffled batches of ``batch_size`` queries (reshuffled each pass; an incomplete tail is dropped)."""
    if len(queries) < batch_size:
        raise LabsError(
            f"{len(queries)} queries cannot fill one batch of {batch_size}: pass more queries or "
            "lower PPOConfig.batch_size."
        )
    rng = random.Random(seed)
    order = list(range(len(queries)))
    while True:
        rng.shuffle(order)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield [queries[i] for i in order[start : start + batch_size]]


def draw_length(max_new_tokens: int | tuple[int, int], rng: random.Random) -> int:
    """``max_new_tokens`` itself, or a length drawn uniformly from an inclusive (low, high) range."""
    if isinstance(max_new_tokens, int):
        return max_new_tokens
    low, high = max_new_tokens
    if not 1 <= low <= high:
        raise LabsError(f"max_new_tokens={max_new_tokens!r}: use a whole number, or (low, high) with 1 <= low <= high.")
    return rng.randint(low, high)


def train_ppo(
    trainer: PPOTrainer,
    reward_fn: Callable[[list[str]], Sequence[float]],
    queries: Sequence[Any],
    steps: int,
    max_new_tokens: int | tuple[int, int],
    min_new_tokens: int = 5,
    seed: int = 0,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Run ``steps`` PPO steps; ``reward_fn`` (e.g. ``reward.rewards``) scores the response texts; returns the stats."""
    if steps < 1:
        raise LabsError(f"steps={steps}: use 1 or more.")
    batches = query_batches(queries, trainer.config.batch_size, seed)
    rng = random.Random(seed)
    history = []
    for step in range(steps):
        rollout = trainer.generate(next(batches), draw_length(max_new_tokens, rng), min_new_tokens)
        if not rollout.texts:
            raise LabsError("The rollout has no texts to score: give PPOTrainer a tokenizer (tokenizer=...).")
        stats = trainer.step(rollout, list(reward_fn(rollout.texts)))
        if not is_finite_stats(stats):
            raise LabsError(
                f"Step {step} produced non-finite statistics: lower the learning rate and check the reward."
            )
        history.append({"step": float(step)} | stats)
        if on_step is not None:
            on_step(step, stats)
    return history


def print_step(step: int, stats: dict[str, float]) -> None:
    """Print the three values the course's lab printed after each step."""
    print(f"step {step}: " + ", ".join(f"{key}: {stats[key]:.4g}" for key in PRINTED))


def history_table(history: Sequence[dict[str, float]], columns: Sequence[str] | None = None) -> Any:
    """The per-step statistics as a pandas DataFrame indexed by step (all columns, or those asked for)."""
    import pandas as pd

    frame = pd.DataFrame(list(history)).set_index("step")
    frame.index = frame.index.astype(int)
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise LabsError(
                f"No statistic named {', '.join(map(repr, missing))}; the step reports {', '.join(frame.columns)}."
            )
        frame = frame[list(columns)]
    return frame
