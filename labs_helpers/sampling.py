"""Next-token choice by hand: temperature, greedy, random sampling, top-k and top-p (nucleus).

Each function does, in NumPy, what one of transformers' logits processors does inside
``model.generate(do_sample=True, ...)``, with the same semantics (``tests/test_sampling.py``
checks them against ``TemperatureLogitsWarper``, ``TopKLogitsWarper`` and ``TopPLogitsWarper``):

* temperature divides the logits before the softmax;
* top-k keeps the k highest-scoring tokens, and every token tied with the k-th;
* top-p keeps the *smallest* set of most likely tokens whose probabilities add up to p or more
  (so the token that crosses p is kept), and always at least ``min_tokens_to_keep`` tokens;
* ``generate`` applies them in that order: temperature, then top-k, then top-p.

Functions take logits (or log-probabilities: the softmax does not mind the difference) along the
last axis of an array, and return masks of the tokens they keep.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# The lesson's next-word example: four named words; the rest of the mass on other words.
TOY_NAMED = {"cake": 0.20, "donut": 0.10, "banana": 0.02, "apple": 0.01}
TOY_VOCAB_SIZE = 200
_TOY_FILLERS = (
    "bread pizza pasta rice soup salad cheese cookie pie muffin bagel waffle pancake noodles "
    "sushi taco burrito curry stew chips popcorn candy chocolate yogurt cereal toast omelette "
    "sandwich burger steak chicken fish tofu beans lentils carrot potato tomato mango cherry "
    "grape lemon orange peach pear plum melon berry kiwi"
).split()


def toy_distribution(vocab_size: int = TOY_VOCAB_SIZE) -> tuple[list[str], np.ndarray]:
    """The lesson's toy next-word distribution: cake 0.20, donut 0.10, banana 0.02, apple 0.01, then a tail."""
    n_tail = vocab_size - len(TOY_NAMED)
    if n_tail < 1:
        raise ValueError(f"vocab_size={vocab_size}: use at least {len(TOY_NAMED) + 1} (the named words plus a tail).")
    fillers = _TOY_FILLERS + [f"word{i:03d}" for i in range(len(_TOY_FILLERS) + 1, n_tail + 1)]
    words = list(TOY_NAMED) + fillers[:n_tail]
    # The remaining mass falls off linearly over the tail, every tail word below 'apple' (0.01).
    weights = np.arange(n_tail, 0, -1, dtype=np.float64)
    tail = (1.0 - sum(TOY_NAMED.values())) * weights / weights.sum()
    probs = np.concatenate([np.array(list(TOY_NAMED.values())), tail])
    return words, probs


# ---- validation, worded like transformers' own processors ---------------------------------


def validate_temperature(temperature: float) -> float:
    """``temperature`` as a float, or a ValueError unless it is a finite number > 0."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float, np.floating, np.integer))
        or not (temperature > 0)
        or not math.isfinite(temperature)
    ):
        message = (
            f"`temperature` (={temperature}) has to be a strictly positive float, otherwise your next "
            "token scores will be invalid."
        )
        if isinstance(temperature, (int, float)) and temperature == 0:
            message += " If you're looking for greedy decoding strategies, set `do_sample=False` (here: greedy())."
        raise ValueError(message)
    return float(temperature)


def validate_top_k(top_k: int) -> int:
    """``top_k`` as an int, or a ValueError unless it is a whole number >= 1."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(
            f"`top_k` has to be a strictly positive integer, but is {top_k}. "
            "Use top_k=None to switch top-k off (generate() uses top_k=0 for that)."
        )
    return int(top_k)


def validate_top_p(top_p: float) -> float:
    """``top_p`` as a float, or a ValueError unless 0 < top_p <= 1."""
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float, np.floating, np.integer)) or not (0 < top_p <= 1):
        raise ValueError(
            f"`top_p` has to be a float > 0 and <= 1, but is {top_p}. "
            "top_p=1 keeps every token; smaller values keep only the most likely ones."
        )
    return float(top_p)


def _validate_min_keep(min_tokens_to_keep: int) -> int:
    if (
        isinstance(min_tokens_to_keep, bool)
        or not isinstance(min_tokens_to_keep, (int, np.integer))
        or min_tokens_to_keep < 1
    ):
        raise ValueError(f"`min_tokens_to_keep` has to be a positive integer, but is {min_tokens_to_keep}")
    return int(min_tokens_to_keep)


# ---- the operations ---------------------------------------------------------------------------


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits divided by ``temperature`` (softmax along the last axis)."""
    temperature = validate_temperature(temperature)
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - np.max(scaled, axis=-1, keepdims=True)  # exp() of large numbers overflows
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def greedy(logits: np.ndarray) -> np.ndarray | int:
    """The index of the highest score (the first one when tied), as ``do_sample=False`` picks it."""
    choice = np.argmax(np.asarray(logits), axis=-1)
    return int(choice) if choice.ndim == 0 else choice


def sample(
    probs: np.ndarray, n: int = 1, seed: int | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """``n`` token indices drawn from one distribution ``probs`` (inverse-CDF sampling)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or probs.size == 0 or np.any(probs < 0) or not probs.sum() > 0:
        raise ValueError("probs must be one non-empty row of non-negative probabilities with a positive sum.")
    rng = rng if rng is not None else np.random.default_rng(seed)
    cumulative = np.cumsum(probs)
    u = rng.random(n) * cumulative[-1]  # uniform in [0, total)
    # The first index whose cumulative probability exceeds u: each token gets an interval of its width.
    return np.searchsorted(cumulative, u, side="right")


def top_k_mask(logits: np.ndarray, top_k: int, min_tokens_to_keep: int = 1) -> np.ndarray:
    """True for the ``top_k`` highest scores, and for every score tied with the k-th."""
    top_k = validate_top_k(top_k)
    logits = np.asarray(logits)
    k = min(max(top_k, _validate_min_keep(min_tokens_to_keep)), logits.shape[-1])
    kth_largest = np.sort(logits, axis=-1)[..., -k][..., None]
    return logits >= kth_largest


def top_p_mask(logits: np.ndarray, top_p: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """True for the smallest set of most likely tokens whose probabilities add up to ``top_p`` or more."""
    top_p = validate_top_p(top_p)
    min_keep = _validate_min_keep(min_tokens_to_keep)
    logits = np.asarray(logits)
    if top_p == 1.0:
        return logits > -np.inf  # keep every token that has any probability
    probs = softmax(logits)
    order = np.argsort(-probs, axis=-1, kind="stable")  # most likely first; ties: lower index first
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    # Keep a token while the tokens above it have not reached top_p yet: the one that crosses stays.
    keep_sorted = mass_before < top_p
    keep_sorted[..., :min_keep] = True
    mask = np.zeros_like(keep_sorted)
    np.put_along_axis(mask, order, keep_sorted, axis=-1)
    return mask


def top_p_mask_lesson(probs: np.ndarray, top_p: float) -> np.ndarray:
    """The lesson's wording of top-p: keep tokens while the running total (themselves included) is <= p."""
    top_p = validate_top_p(top_p)
    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, axis=-1, kind="stable")
    running = np.cumsum(np.take_along_axis(probs, order, axis=-1), axis=-1)
    mask = np.zeros(probs.shape, dtype=bool)
    np.put_along_axis(mask, order, running <= top_p, axis=-1)
    return mask  # may keep nothing at all: one reason libraries do not do it this way


def filter_logits(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_tokens_to_keep: int = 1,
) -> np.ndarray:
    """Logits after temperature, then top-k, then top-p (removed tokens set to -inf), as generate() does."""
    scores = np.asarray(logits, dtype=np.float64) / validate_temperature(temperature)
    if top_k is not None:
        scores = np.where(top_k_mask(scores, top_k, min_tokens_to_keep), scores, -np.inf)
    if top_p is not None:
        scores = np.where(top_p_mask(scores, top_p, min_tokens_to_keep), scores, -np.inf)
    return scores


def next_token_probs(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """The distribution ``generate(do_sample=True, ...)`` samples from: filtered logits, softmax."""
    return softmax(filter_logits(logits, temperature, top_k, top_p))


def top_tokens(probs: np.ndarray, words: Sequence[str], n: int = 10) -> list[tuple[str, float]]:
    """The ``n`` most likely (word, probability) pairs, most likely first, probabilities rounded."""
    order = np.argsort(-np.asarray(probs), kind="stable")[:n]
    return [(words[i], round(float(probs[i]), 4)) for i in order]
