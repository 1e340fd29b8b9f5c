"""Toxicity with the semantics of evaluate's "toxicity" measurement, for any reward model of this kit.

evaluate's measurement returns ``{"toxicity": [...]}`` (one probability of the toxic label per
text), or with ``aggregation="maximum"`` ``{"max_toxicity": x}``, or with ``aggregation="ratio"``
``{"toxicity_ratio": share of texts scoring >= 0.5}``. The lab then prints the mean and standard
deviation (numpy's, ddof 0) of the per-text values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import LabsError

AGGREGATIONS = (None, "maximum", "ratio")


def toxicity_from_logits(logits: Any, id2label: dict[int, str], toxic_label: str = "hate") -> list[float]:
    """Softmax probability of the label named ``toxic_label`` per row of ``logits``."""
    import torch

    from .rewards import label_index

    index = label_index({int(k): v for k, v in id2label.items()}, toxic_label)
    return torch.softmax(torch.as_tensor(logits, dtype=torch.float32), dim=-1)[:, index].tolist()


def aggregate_toxicity(scores: Sequence[float], aggregation: str | None = None) -> dict[str, Any]:
    """evaluate's output for per-text ``scores``: the list, ``max_toxicity`` or ``toxicity_ratio``."""
    scores = [float(s) for s in scores]
    if aggregation not in AGGREGATIONS:
        raise LabsError(f"aggregation={aggregation!r}: use None (one value per text), 'maximum' or 'ratio'.")
    if aggregation is None:
        return {"toxicity": scores}
    if not scores:
        raise LabsError(f"aggregation={aggregation!r} of no texts: pass at least one text.")
    if aggregation == "maximum":
        return {"max_toxicity": max(scores)}
    return {"toxicity_ratio": sum(s >= 0.5 for s in scores) / len(scores)}


def measure_toxicity(reward_model: Any, texts: Sequence[str], aggregation: str | None = None) -> dict[str, Any]:
    """evaluate's ``toxicity.compute(predictions=texts, aggregation=...)``, plus ``measured_by``: the model's name."""
    return aggregate_toxicity(reward_model.toxicity(list(texts)), aggregation) | {"measured_by": reward_model.name}


def mean_std(scores: Sequence[float]) -> tuple[float, float]:
    """(mean, standard deviation with ddof 0) of ``scores``, as the lab's ``np.mean`` / ``np.std``."""
    scores = [float(s) for s in scores]
    if not scores:
        raise LabsError("No scores to average: pass at least one.")
    mean = sum(scores) / len(scores)
    return mean, (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
