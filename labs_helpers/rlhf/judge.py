"""A judge that PPO never saw: a second toxicity measure, of another kind than the reward model.

A policy trained against one reward model can learn that model's blind spots, so every figure
after training is also measured by a judge:

- offline, ``WordListJudge``: better-profanity's hand-made list of 916 offensive words and phrases,
  which ships inside its wheel. It differs in kind from alt-profanity-check (weights learned from
  labelled tweets and comments): a word either is on a person's list or not, so a name such as
  "Dick" counts, but "mom", "sick" or "chicken", which the reward model's weights punish, never do.
  A summary's toxicity is 1.0 when it holds a listed word, else 0.0; the mean is the share flagged.
- on the course profile, a second classifier from the Hub (``COURSE_JUDGE``, s-nlp's RoBERTa
  trained on Jigsaw's toxic comments, labels ``neutral`` / ``toxic``), through ``ClassifierReward``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..errors import LabsError

COURSE_JUDGE = "s-nlp/roberta_toxicity_classifier"
COURSE_JUDGE_LABELS = ("neutral", "toxic")  # (the reward label, the toxic label)
OFFLINE_JUDGE_NAME = "judge: better-profanity's word list (not the reward model)"
_WORD = re.compile(r"[a-z0-9']+")


def word_list() -> list[str]:
    """better-profanity's word list, as shipped in its wheel (lower case, one entry a line)."""
    from importlib import resources

    try:
        text = (resources.files("better_profanity") / "profanity_wordlist.txt").read_text()
    except (ImportError, ModuleNotFoundError, FileNotFoundError) as error:
        raise LabsError(
            "better-profanity is not installed (notebook 06's offline judge): run pip install better-profanity."
        ) from error
    return [line.strip().lower() for line in text.splitlines() if line.strip()]


class WordListJudge:
    """Toxicity 1.0 for a text that holds a listed word or phrase (whole words), else 0.0."""

    name = OFFLINE_JUDGE_NAME

    def __init__(self, words: Sequence[str] | None = None) -> None:
        entries = list(word_list() if words is None else words)
        if not entries:
            raise LabsError("The judge's word list is empty: pass at least one word, or None for better-profanity's.")
        self.words = {tuple(_WORD.findall(w.lower())) for w in entries if _WORD.findall(w.lower())}
        self.longest = max(len(w) for w in self.words)

    def flagged_words(self, text: str) -> list[str]:
        """The listed words and phrases in ``text``, in order of appearance."""
        tokens = _WORD.findall(text.lower())
        found = []
        for start in range(len(tokens)):
            for size in range(1, self.longest + 1):
                gram = tuple(tokens[start : start + size])
                if len(gram) == size and gram in self.words:
                    found.append(" ".join(gram))
        return found

    def toxicity(self, texts: Sequence[str]) -> list[float]:
        """1.0 per text with a listed word, 0.0 per text without."""
        return [1.0 if self.flagged_words(t) else 0.0 for t in texts]


def load_judge(offline: bool, name_or_path: str = COURSE_JUDGE) -> Any:
    """The judge of notebook 06: the word list offline, the second Hub classifier on the course profile."""
    if offline:
        return WordListJudge()
    from .rewards import load_classifier_reward

    neutral, toxic = COURSE_JUDGE_LABELS
    return load_classifier_reward(name_or_path, reward_label=neutral, toxic_label=toxic, name=f"judge: {name_or_path}")


def disagreements(texts: Sequence[str], reward_model: Any, judge: Any, n: int = 5, threshold: float = 0.5) -> Any:
    """Up to ``n`` texts of each kind where one model scores >= ``threshold`` and the other does not."""
    import pandas as pd

    texts = list(dict.fromkeys(texts))
    table = pd.DataFrame(
        {"summary": texts, "reward model": reward_model.toxicity(texts), "judge": judge.toxicity(texts)}
    )
    by_reward = table[(table["reward model"] >= threshold) & (table["judge"] < threshold)]
    by_judge = table[(table["reward model"] < threshold) & (table["judge"] >= threshold)]
    rows = [by_reward.assign(flagged_by="reward model only").head(n), by_judge.assign(flagged_by="judge only").head(n)]
    return pd.concat(rows, ignore_index=True).round(3)
