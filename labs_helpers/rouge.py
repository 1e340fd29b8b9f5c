"""ROUGE offline: the same numbers as ``evaluate.load("rouge", seed=...)``, on rouge-score.

``evaluate.load("rouge")`` fetches its script from the Hub, so it fails offline. This module
does what that script does: rouge-score's ``RougeScorer`` per example (``score_multi`` when
each prediction has several references: the best reference counts), then, with the
aggregator, rouge-score's ``BootstrapAggregator``: the *median* of 1,000 bootstrap means,
drawn from NumPy's global generator seeded with ``seed`` (and restored afterwards).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _per_example(predictions: Sequence[str], references: Sequence, use_stemmer: bool, rouge_types: Sequence[str]):
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references: give one reference (or list of references) per prediction.")
    if not predictions:
        raise ValueError("No predictions to score: pass at least one prediction with its reference.")
    scorer = rouge_scorer.RougeScorer(rouge_types=list(rouge_types), use_stemmer=use_stemmer)
    multi = isinstance(references[0], (list, tuple))
    return [scorer.score_multi(list(ref), pred) if multi else scorer.score(ref, pred)
            for ref, pred in zip(references, predictions)]


def rouge(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    use_stemmer: bool = True,
    use_aggregator: bool = True,
    seed: int = 42,
    rouge_types: Sequence[str] = ROUGE_TYPES,
) -> dict[str, float] | dict[str, list[float]]:
    """ROUGE F-measures as ``evaluate``'s rouge gives them: bootstrap medians, or per example."""
    scores = _per_example(predictions, references, use_stemmer, rouge_types)
    if not use_aggregator:
        return {key: [float(s[key].fmeasure) for s in scores] for key in rouge_types}
    return {key: mid for key, (low, mid, high) in rouge_ci(scores=scores, seed=seed).items()}


def rouge_ci(
    predictions: Sequence[str] | None = None,
    references: Sequence | None = None,
    use_stemmer: bool = True,
    seed: int = 42,
    confidence: float = 0.95,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    scores: list | None = None,
) -> dict[str, tuple[float, float, float]]:
    """(low, median, high) of the bootstrap F-measure for each ROUGE type."""
    from rouge_score import scoring

    if scores is None:
        scores = _per_example(predictions or [], references or [], use_stemmer, rouge_types)
    aggregator = scoring.BootstrapAggregator(confidence_interval=confidence)
    for score in scores:
        aggregator.add_scores(score)
    with _numpy_seed(seed):
        result = aggregator.aggregate()
    return {key: (float(v.low.fmeasure), float(v.mid.fmeasure), float(v.high.fmeasure)) for key, v in result.items()}
