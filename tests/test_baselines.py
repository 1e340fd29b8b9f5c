"""The stand-in benchmark's yardsticks: constant summary, distinct outputs, content words, paired bootstrap."""

import pytest

from labs_helpers import baselines


def test_words_drop_person_tags_and_content_words_drop_stop_and_template_words():
    assert baselines.alphabetic_words("#Person1# asks Tom's cat") == ["asks", "tom", "s", "cat"]
    assert baselines.candidate_words("#Person1#: The cat saw the Cat, Tom.") == ["cat", "saw", "cat", "tom"]
    assert baselines.content_words("#Person2# tells #Person1# the cat is on the mat", {"tells"}) == {"cat", "mat"}


def test_template_words_are_those_in_more_than_the_share_of_summaries():
    summaries = ["a talks about cats", "b talks about dogs", "c talks about fish", "d sings"]
    assert baselines.template_words(summaries, 0.5) == {"talks", "about"}


def test_distinct_count_ignores_surrounding_space():
    assert baselines.distinct_count(["x", " x ", "y"]) == 2


def test_content_word_share_counts_summaries_with_a_word_of_their_own_dialogue():
    dialogues = ["#Person1#: My cat is ill.", "#Person1#: The train is late.", "#Person1#: Lunch?"]
    summaries = ["#Person1#'s cat is ill.", "#Person1# talks about the cat.", "They talk."]
    assert baselines.content_word_share(summaries, dialogues) == pytest.approx(1 / 3)
    assert baselines.content_word_share(summaries[:1], dialogues[:1], template={"cat", "ill"}) == 0.0
    with pytest.raises(ValueError):
        baselines.content_word_share(summaries, dialogues[:2])


def test_best_constant_summary_picks_the_most_typical_summary_deterministically():
    train = {
        "summary": ["#Person1# and #Person2# talk about the weather."] * 3
        + [
            "#Person1# and #Person2# talk about the trip.",
            "A zebra eats.",
            "Quantum flux.",
            "#Person1# and #Person2# talk about the food.",
            "Xylophones hum.",
        ]
    }
    first = baselines.best_constant_summary(train, candidates=8, references=8, seed=0)
    assert first == baselines.best_constant_summary(train, candidates=8, references=8, seed=0)
    assert "talk about" in first[0] and 0 < first[1] <= 1


def test_paired_bootstrap_diff_brackets_the_mean_difference():
    a, b = [0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7]
    low, mid, high = baselines.paired_bootstrap_diff(a, b, seed=1)
    assert low == pytest.approx(0.1) and mid == pytest.approx(0.1) and high == pytest.approx(0.1)
    low, mid, high = baselines.paired_bootstrap_diff([1, 0, 1, 0], [0, 1, 0, 0], seed=1)
    assert low < 0.25 < high and mid == pytest.approx(0.25)
    assert baselines.paired_bootstrap_diff([1, 0, 1, 0], [0, 1, 0, 0], seed=1) == (low, mid, high)
    with pytest.raises(ValueError):
        baselines.paired_bootstrap_diff([1.0], [1.0, 2.0])


def test_the_fast_rouge1_of_the_constant_search_is_rouge_scores_rouge1():
    """best_constant_summary scores 300,000 pairs with its own F-measure: it must be ROUGE-1's."""
    from labs_helpers.metrics import rouge_scores

    pairs = [
        ("#Person1# and #Person2# talk about the trips.", "#Person2# tells #Person1# about a trip."),
        ("Running dogs ran.", "The dog runs."),
        ("a b c", "x y z"),
    ]
    tokens = baselines._rouge1_tokens([t for pair in pairs for t in pair])
    for (a, b), ta, tb in zip(pairs, tokens[0::2], tokens[1::2]):
        expected = rouge_scores([a], [b], use_aggregator=False)["rouge1"][0]
        assert baselines._rouge1_f(ta, tb) == pytest.approx(expected)


def test_unseen_word_share_counts_summary_words_the_dialogue_never_uses():
    dialogues = ["#Person1#: My cat is ill. #Person2#: Take her to the vet.", "#Person1#: The train is late."]
    summaries = ["#Person1#'s cat is ill and goes to the vet.", "#Person2# buys a modem."]
    assert baselines.unseen_word_share(summaries, dialogues) == pytest.approx(2 / 5)  # cat ill vet | buys modem
    assert baselines.unseen_word_share(summaries, dialogues, template={"buys"}) == pytest.approx(1 / 4)
    assert baselines.unseen_word_share([], []) == 0.0
    with pytest.raises(ValueError, match="give one per dialogue"):
        baselines.unseen_word_share(summaries, dialogues[:1])
