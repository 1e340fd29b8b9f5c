"""Where the reward has signal: the lab's train dialogues whose human summary the reward model finds offensive.

On all of DialogSum the reward is nearly flat (alt-profanity-check: mean p(offensive) 0.045 for the
train summaries), so PPO has little to move. trl's detoxification example keeps only prompts whose
toxicity is above 0.3; ``select_slice`` does the same over the lab's train split, scoring each
dialogue's **human summary**, the **dialogue** itself, or **either** (not the policy's samples: the
choice does not depend on the policy or the seed), and keeps a held-out part of the slice for
evaluation that no method ever trains on.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..errors import LabsError

THRESHOLD = 0.3  # trl's detoxification example: prompts with toxicity above 0.3
HELD_OUT = 0.4  # share of the slice kept for evaluation
SCORED = {"summary": "a human summary", "dialogue": "a dialogue", "either": "a dialogue or its human summary"}


@dataclasses.dataclass
class ToxicSlice:
    """The slice's train and held-out parts (rows of the lab's split) and the rates beside the whole split's."""

    train: Any
    held_out: Any
    threshold: float
    split_size: int
    split_mean: float  # mean toxicity of what was scored, over the whole split
    slice_mean: float  # ... over the slice
    measured_by: str
    widened: bool = False  # too few above the threshold: the highest-scoring summaries were taken instead
    scored: str = "summary"  # what the reward model scored: a key of SCORED

    def describe(self) -> str:
        """One line: the slice's size and base rate beside the whole split's."""
        size = len(self.train) + len(self.held_out)
        widened = " (too few above 0.3 here: the highest-scoring were taken)" if self.widened else ""
        return (
            f"{size} of {self.split_size:,} dialogues ({100 * size / self.split_size:.1f}%) have "
            f"{SCORED[self.scored]} with toxicity > {self.threshold:.3g}{widened} ({self.measured_by}): mean "
            f"toxicity {self.slice_mean:.3f} on the slice against {self.split_mean:.3f} on the whole split; "
            f"{len(self.train)} to train on, {len(self.held_out)} held out for evaluation (never trained on)"
        )


def _summaries(split: Any, summaries_by_id: dict[str, str] | None) -> list[str]:
    if "summary" in split.column_names:
        return list(split["summary"])
    if summaries_by_id is None:
        raise LabsError("The split has no 'summary' column: pass summaries_by_id={id: human summary}.")
    missing = [i for i in split["id"] if i not in summaries_by_id]
    if missing:
        raise LabsError(
            f"No human summary for {len(missing)} ids (e.g. {missing[0]!r}): pass the split they came from."
        )
    return [summaries_by_id[i] for i in split["id"]]


def select_slice(
    split: Any,
    reward_model: Any,
    batch_size: int,
    threshold: float = THRESHOLD,
    held_out: float = HELD_OUT,
    summaries_by_id: dict[str, str] | None = None,
    widen: bool = False,
    scored: str = "summary",
) -> ToxicSlice:
    """The rows of ``split`` whose ``scored`` text scores above ``threshold``, cut into train and held-out parts.

    ``scored``: ``"summary"`` (the human summary), ``"dialogue"``, or ``"either"`` (the larger of the two).

    With ``widen=True``, a split with too few such rows (the kit's small sample) gives the highest-scoring
    rows instead, as many as a training batch and a held-out part need, and the slice says so.
    """
    _check_options(threshold, held_out, scored)
    scores = _scores(split, reward_model, scored, summaries_by_id)
    keep = [i for i, score in enumerate(scores) if score > threshold]
    needed = math.ceil(batch_size / (1 - held_out)) + 1
    widened = widen and len(keep) < needed <= len(scores)
    if widened:
        keep = sorted(sorted(range(len(scores)), key=lambda i: -scores[i])[:needed])
        threshold = min(scores[i] for i in keep) - 1e-9
    n_held = round(len(keep) * held_out)
    if len(keep) - n_held < batch_size or n_held < 1:
        raise LabsError(
            f"Only {len(keep)} of {len(split)} summaries score above {threshold} ({reward_model.name}): too few for "
            f"a held-out part and a training batch of {batch_size}. Lower the threshold, use the full DialogSum "
            "(LABS_DATASET), or lower the batch size (LABS_PPO_BATCH_SIZE)."
        )
    # Held-out rows are spread evenly over the slice (in the split's order), so both parts cover its topics.
    step = len(keep) / n_held
    held = {keep[int(k * step)] for k in range(n_held)}
    train_rows = [i for i in keep if i not in held]
    return ToxicSlice(
        train=split.select(train_rows),
        held_out=split.select(sorted(held)),
        threshold=threshold,
        split_size=len(split),
        split_mean=sum(scores) / len(scores),
        slice_mean=sum(scores[i] for i in keep) / len(keep),
        measured_by=reward_model.name,
        widened=widened,
        scored=scored,
    )


def _check_options(threshold: float, held_out: float, scored: str) -> None:
    """One sentence for a threshold, share or scored text that ``select_slice`` cannot use."""
    if not 0 <= threshold < 1:
        raise LabsError(f"threshold={threshold!r}: use a toxicity in [0, 1), e.g. trl's 0.3.")
    if not 0 < held_out < 1:
        raise LabsError(f"held_out={held_out!r}: use a share between 0 and 1, e.g. 0.4.")
    if scored not in SCORED:
        raise LabsError(f"scored={scored!r}: use one of {', '.join(SCORED)}.")


def _scores(split: Any, reward_model: Any, scored: str, summaries_by_id: dict[str, str] | None) -> list[float]:
    """The reward model's toxicity of each row's summary, dialogue, or the larger of the two."""
    sources = []
    if scored != "dialogue":
        sources.append(_summaries(split, summaries_by_id))
    if scored != "summary":
        sources.append(list(split["dialogue"]))
    return [max(row) for row in zip(*(reward_model.toxicity(texts) for texts in sources))]
