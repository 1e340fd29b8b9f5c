"""PPO against the simplest rivals on the same slice and reward: before, best-of-n, PPO, DPO, in one table.

Each method gives one sampled summary per held-out dialogue (``Method``), with the generations and
wall time it spent and its KL to the reference. ``rival_table`` scores every method with the reward
model and the judge, with the paired 95% interval of the change against the first method ("before"),
and ROUGE-1 against the human summaries (the alignment tax); ``conclusion`` says in one sentence
what the table shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch

from ..errors import LabsError
from .evaluate import exact_kl, paired_difference, sample_summaries
from .rollout import pad_right, sample_responses


@dataclasses.dataclass
class Method:
    """One row of the table: its summaries (one per held-out dialogue), KL, generations and seconds spent."""

    name: str
    summaries: list[str]
    kl: float
    generations: int
    seconds: float


def sample_with_kl(
    model: Any, tokenizer: Any, queries: Sequence[torch.Tensor], max_new_tokens: int, seed: int, batch_size: int = 16
) -> tuple[list[str], float]:
    """One sampled summary per query and the mean exact KL of those summaries to the reference (adapter off)."""
    if not queries:
        raise LabsError("No queries to summarize: pass at least one.")
    torch.manual_seed(seed)
    texts, kl_sum = [], 0.0
    for start in range(0, len(queries), batch_size):
        ids, mask = pad_right(list(queries[start : start + batch_size]), int(model.config.pad_token_id))
        rollout = sample_responses(model, ids, mask, max_new_tokens, 5, tokenizer)
        texts += rollout.texts
        kl_sum += exact_kl(model, rollout) * len(rollout)
    return texts, kl_sum / len(queries)


def best_of_n(
    model: Any,
    tokenizer: Any,
    queries: Sequence[torch.Tensor],
    reward_model: Any,
    n: int,
    max_new_tokens: int,
    seed: int,
) -> list[str]:
    """Per query, the highest-reward summary of ``n`` sampled from ``model`` (no training)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LabsError(f"best-of-n with n={n!r}: use a whole number of 1 or more (n=1 is plain sampling).")
    best: list[tuple[float, str]] = []
    for draw in range(n):
        texts = sample_summaries(model, tokenizer, queries, max_new_tokens, seed + draw)
        scored = list(zip(reward_model.rewards(texts), texts))
        best = scored if not best else [max(b, s, key=lambda p: p[0]) for b, s in zip(best, scored)]
    return [text for _, text in best]


def best_of_n_kl(n: int) -> float:
    """The KL of best-of-n to the policy it samples from: log(n) - (n - 1) / n (Stiennon et al. 2020)."""
    if n < 1:
        raise LabsError(f"n={n}: best-of-n needs n >= 1.")
    return math.log(n) - (n - 1) / n


def _interval(diff: dict[str, float]) -> str:
    return f"{diff['mean_difference']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]"


def rival_table(
    methods: Sequence[Method], references: Sequence[str], reward_model: Any, judge: Any, seed: int = 0
) -> Any:
    """The table: toxicity by the reward model and by the judge, ROUGE-1, each change against the first method."""
    import pandas as pd

    from ..metrics import rouge_scores

    if len(methods) < 2 or any(len(m.summaries) != len(references) for m in methods):
        raise LabsError("Pass 'before' and at least one method, each with one summary per reference, in order.")
    scores = {
        m.name: {
            "reward": reward_model.toxicity(m.summaries),
            "judge": judge.toxicity(m.summaries),
            "rouge1": rouge_scores(m.summaries, list(references), use_aggregator=False)["rouge1"],
        }
        for m in methods
    }
    base = scores[methods[0].name]
    rows = {}
    for m in methods:
        row: dict[str, Any] = {}
        for key, label in (("reward", "toxicity (reward model)"), ("judge", "toxicity (judge)"), ("rouge1", "ROUGE-1")):
            values = scores[m.name][key]
            row[label] = round(sum(values) / len(values), 4)
            row[f"{label} change [95%]"] = _interval(paired_difference(base[key], values, seed=seed))
            row[f"_{key}"] = paired_difference(base[key], values, seed=seed)
        row |= {"KL to reference": round(m.kl, 3), "generations": m.generations, "seconds": round(m.seconds, 1)}
        rows[m.name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"{len(references)} held-out dialogues"
    table.attrs["dialogues"] = len(references)
    table.attrs["measured_by"] = {"reward model": reward_model.name, "judge": judge.name}
    return table


def shown(table: Any) -> Any:
    """The table without its hidden columns (the raw intervals that ``conclusion`` reads)."""
    return table[[c for c in table.columns if not c.startswith("_")]]


FEW_FLAGGED = 3  # so few flagged summaries that removing them all stays inside a paired interval of about 0


def conclusion(table: Any) -> str:
    """One paragraph from the table: what each method did by both models, and who won at about equal compute."""
    before, rows = table.iloc[0], table.iloc[1:]
    dialogues = int(table.attrs["dialogues"])
    lowered = [name for name, row in rows.iterrows() if row["_reward"]["high"] < 0]
    both = [name for name in lowered if rows.loc[name, "_judge"]["high"] < 0]
    if both:
        cheapest = min(both, key=lambda name: table.loc[name, "generations"])
        head = f"Both models agree that {', '.join(both)} detoxified; the cheapest in generations was {cheapest}."
    elif lowered:
        head = (
            f"By the reward model, {', '.join(lowered)} lowered toxicity (interval below 0); the judge confirms none."
        )
    else:
        head = "No method lowered toxicity by both the reward model and the judge with an interval below 0."
    sentences = [head] + [_method_line(name, row) for name, row in rows.iterrows()]
    flagged = round(before["toxicity (judge)"] * dialogues)
    if flagged == 0:
        sentences.append(f"The judge flags none of the {dialogues} starting summaries: it has nothing to show falling.")
    elif flagged <= FEW_FLAGGED:
        sentences.append(
            f"The judge flags {flagged} of the {dialogues} starting summaries, so no method can show a fall by the "
            f"judge here: removing them all moves its mean by {flagged / max(dialogues, 1):.3f}, inside the noise."
        )
    sentences += _equal_compute(rows)
    return " ".join(sentences)


def _method_line(name: str, row: Any) -> str:
    judge, reward, rouge = row["_judge"], row["_reward"], row["_rouge1"]
    verdict = "lowered" if judge["high"] < 0 else ("raised" if judge["low"] > 0 else "did not clearly change")
    return (
        f"{name} {verdict} the judge's toxicity ({judge['mean_difference']:+.3f}; reward model "
        f"{reward['mean_difference']:+.3f} [{reward['low']:+.3f}, {reward['high']:+.3f}]; ROUGE-1 "
        f"{rouge['mean_difference']:+.3f}; {row['generations']} generations)."
    )


def _equal_compute(rows: Any) -> list[str]:
    """For each trained method, the best-of-n closest to it in generations, and which lowered the reward more."""
    sampled = [name for name in rows.index if str(name).startswith("best-of-")]
    out = []
    for name in (n for n in rows.index if n not in sampled):
        if not sampled:
            break
        mine_n = rows.loc[name, "generations"]
        rival = min(sampled, key=lambda other: abs(rows.loc[other, "generations"] - mine_n))
        theirs_n = rows.loc[rival, "generations"]
        mine, theirs = rows.loc[name, "_reward"], rows.loc[rival, "_reward"]
        winner, loser = (name, rival) if mine["mean_difference"] < theirs["mean_difference"] else (rival, name)
        equal = max(mine_n, theirs_n) <= 1.5 * min(mine_n, theirs_n)
        apart = mine["high"] < theirs["low"] or theirs["high"] < mine["low"]
        out.append(
            f"{name} ({mine_n} generations) against {rival} ({theirs_n}"
            f"{', about equal compute' if equal else ''}): {winner} lowered the reward model's toxicity more than "
            f"{loser} ({min(mine['mean_difference'], theirs['mean_difference']):+.3f} against "
            f"{max(mine['mean_difference'], theirs['mean_difference']):+.3f}"
            f"{'' if apart else '; their intervals overlap, so this run does not tell them apart'})."
        )
    return out
