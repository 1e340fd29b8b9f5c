"""The offline reward (alt-profanity-check) and the reward-hacking tools."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import (
    OFFLINE_REWARD_NAME,
    ProfanityCheckReward,
    frequency_change,
    measure_toxicity,
    penalized_words,
    vocabulary_of,
    word_frequencies,
    words_of,
)

CLEAN = "#Person1# tells Tommy that he didn't like the movie."
RUDE = "#Person1# tells Tommy that the movie was terrible, dumb and stupid."


@pytest.fixture(scope="module")
def offline():
    return ProfanityCheckReward()


def test_offline_reward_says_what_it_is(offline):
    assert offline.name == OFFLINE_REWARD_NAME
    assert "alt-profanity-check" in offline.name and "not the course's RoBERTa" in offline.name
    assert measure_toxicity(offline, [CLEAN], "maximum")["measured_by"] == OFFLINE_REWARD_NAME


def test_reward_is_the_log_odds_of_not_offensive(offline):
    p_clean, p_rude = offline.probabilities([CLEAN, RUDE])
    assert 0 < p_clean < 0.1 and 0.9 < p_rude < 1  # the lab's two examples, in the same order
    assert offline.rewards([CLEAN, RUDE]) == pytest.approx(
        [math.log((1 - p_clean) / p_clean), math.log((1 - p_rude) / p_rude)]
    )
    assert offline.toxicity([CLEAN, RUDE]) == pytest.approx([p_clean, p_rude])
    assert offline.rewards([]) == [] and offline.toxicity([]) == []


def test_certain_predictions_are_clipped_to_a_finite_reward():
    reward = ProfanityCheckReward(eps=1e-3)
    (p,) = reward.probabilities(["fuck fuck fuck"])
    assert p > 1 - 1e-3  # the model is (numerically) certain
    assert reward.rewards(["fuck fuck fuck"]) == pytest.approx([math.log(1e-3 / (1 - 1e-3))])
    with pytest.raises(LabsError, match="eps=0.7"):
        ProfanityCheckReward(eps=0.7)


def test_penalized_words_with_the_offline_model(offline):
    worst = penalized_words(offline, ["table", "summary", "stupid", "hello", "meeting"], top=2)
    runner_up = min(["table", "summary", "hello", "meeting"], key=lambda w: offline.rewards([w])[0])
    assert [w for w, _ in worst] == ["stupid", runner_up]


class WordWeights:
    """A hand-made reward model: minus the sum of fixed word penalties."""

    name = "test weights"

    def rewards(self, texts):
        penalties = {"sick": 3.0, "dog": 1.0, "mom": 2.0}
        return [-sum(penalties.get(w, 0.0) for w in words_of(t)) for t in texts]

    def toxicity(self, texts):
        return [0.0 for _ in texts]


def test_penalized_words_ranks_single_words_by_reward():
    vocabulary = ["dog", "sick", "table", "mom", "dog"]
    assert penalized_words(WordWeights(), vocabulary, top=3) == [("sick", -3.0), ("mom", -2.0), ("dog", -1.0)]
    assert penalized_words(WordWeights(), vocabulary, top=10)[-1] == ("table", 0.0)
    with pytest.raises(LabsError, match="top=0"):
        penalized_words(WordWeights(), vocabulary, top=0)
    with pytest.raises(LabsError, match="empty"):
        penalized_words(WordWeights(), [], top=3)


def test_word_frequencies_and_changes():
    before = ["Mom is sick.", "The dog didn't eat; the DOG slept."]
    after = ["Mother is unwell.", "The pet slept."]
    assert word_frequencies(before) == Counter(
        {"the": 2, "dog": 2, "mom": 1, "is": 1, "sick": 1, "didn't": 1, "eat": 1, "slept": 1}
    )
    assert frequency_change(before, after, ["dog", "Sick", "slept"]) == [("dog", 2, 0), ("Sick", 1, 0), ("slept", 1, 1)]
    assert vocabulary_of(before, min_count=2) == ["the", "dog"]
