"""Which words a reward model punishes, and how often they occur: the reward-hacking lesson's tools.

A word-weight reward model (such as the offline alt-profanity-check) can penalise harmless words
("sick", "mom", "dog"); PPO may then learn to avoid them. ``penalized_words`` finds them in a
vocabulary; ``word_frequencies`` counts them before and after training.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import LabsError

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words_of(text: str) -> list[str]:
    """The lower-case words of ``text`` (letters, with an inner apostrophe: "didn't")."""
    return WORD.findall(text.lower())


def word_frequencies(texts: Iterable[str]) -> Counter:
    """How many times each lower-case word occurs across ``texts``."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(words_of(text))
    return counts


def vocabulary_of(texts: Iterable[str], min_count: int = 1) -> list[str]:
    """The distinct words of ``texts`` that occur at least ``min_count`` times, most frequent first."""
    return [w for w, n in word_frequencies(texts).most_common() if n >= min_count]


def penalized_words(reward_model: Any, vocabulary: Sequence[str], top: int = 20) -> list[tuple[str, float]]:
    """The ``top`` words of ``vocabulary`` with the lowest reward when scored alone, as (word, reward)."""
    if top < 1:
        raise LabsError(f"top={top}: use 1 or more.")
    words = sorted(set(vocabulary))
    if not words:
        raise LabsError("The vocabulary is empty: pass some words (e.g. vocabulary_of(summaries)).")
    rewards = reward_model.rewards(words)
    return sorted(zip(words, (float(r) for r in rewards)), key=lambda pair: (pair[1], pair[0]))[:top]


def frequency_change(before: Iterable[str], after: Iterable[str], words: Sequence[str]) -> list[tuple[str, int, int]]:
    """(word, count in ``before`` texts, count in ``after`` texts) for each of ``words``."""
    counts_before, counts_after = word_frequencies(before), word_frequencies(after)
    return [(w, counts_before[w.lower()], counts_after[w.lower()]) for w in words]
