"""How generated summaries are scored: ROUGE (offline, as ``evaluate`` computes it) and diversity.

ROUGE gives the same numbers as ``evaluate.load("rouge", seed=...)``, on rouge-score.

``evaluate.load("rouge")`` fetches its script from the Hub, so it fails offline. This module
does what that script does: rouge-score's ``RougeScorer`` per example (``score_multi`` when
each prediction has several references: the best reference counts), then, with the
aggregator, rouge-score's ``BootstrapAggregator``: the *median* of 1,000 bootstrap means,
drawn from NumPy's global generator seeded with ``seed`` (and restored afterwards).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

from .errors import LabsError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """NumPy's global generator seeded with ``seed`` inside the block, restored after it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def per_example_scores(
    predictions: Sequence[str], references: Sequence, use_stemmer: bool = True, rouge_types: Sequence[str] = ROUGE_TYPES
) -> list[dict]:
    """rouge-score's Score tuples per example (the best reference counts when there are several)."""
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions but {len(references)} references: "
            "give one reference (or list of references) per prediction."
        )
    if not predictions:
        raise ValueError("No predictions to score: pass at least one prediction with its reference.")
    scorer = rouge_scorer.RougeScorer(rouge_types=list(rouge_types), use_stemmer=use_stemmer)
    multi = isinstance(references[0], (list, tuple))
    return [
        scorer.score_multi(list(ref), pred) if multi else scorer.score(ref, pred)
        for ref, pred in zip(references, predictions)
    ]


def rouge_scores(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    use_stemmer: bool = True,
    use_aggregator: bool = True,
    seed: int = 42,
    rouge_types: Sequence[str] = ROUGE_TYPES,
) -> dict[str, float] | dict[str, list[float]]:
    """ROUGE F-measures as ``evaluate``'s rouge gives them: bootstrap medians, or per example."""
    scores = per_example_scores(predictions, references, use_stemmer, rouge_types)
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
        scores = per_example_scores(predictions or [], references or [], use_stemmer, rouge_types)
    aggregator = scoring.BootstrapAggregator(confidence_interval=confidence)
    for score in scores:
        aggregator.add_scores(score)
    with _numpy_seed(seed):
        result = aggregator.aggregate()
    return {key: (float(v.low.fmeasure), float(v.mid.fmeasure), float(v.high.fmeasure)) for key, v in result.items()}


# ---- diversity of generated texts -----------------------------------------------------------


def words(text: str) -> list[str]:
    """The lowercased words and punctuation marks of ``text``: what distinct-n and repetition count."""
    return re.findall(r"\w+|[^\w\s]", text.lower())


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct-n (Li et al., 2016): unique word n-grams / all word n-grams over ``texts`` (0 if none)."""
    if n < 1:
        raise LabsError(f"n={n}: distinct-n needs n >= 1 (1 for words, 2 for word pairs, ...).")
    if isinstance(texts, str):
        raise LabsError("distinct_n scores a list of texts, not one text (it would count characters): pass [text].")
    texts = list(texts)
    wrong = [t for t in texts if not isinstance(t, str)]
    if wrong:
        raise LabsError(f"distinct_n scores a list of texts, but one is a {type(wrong[0]).__name__}: pass strings.")
    grams = [tuple(ws[i : i + n]) for ws in map(words, texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngrams(text: str, n: int = 3) -> float:
    """The share of word n-grams in ``text`` that already occurred earlier in it (0 if none)."""
    if n < 1:
        raise ValueError(f"n={n}: use n >= 1.")
    ws = words(text)
    grams = [tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0
