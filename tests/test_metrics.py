import numpy as np
import pytest

from labs_helpers.errors import LabsError
from labs_helpers.metrics import distinct_n, repeated_ngrams, rouge_ci, rouge_scores


def test_single_pair_worked_by_hand():
    # pred: the cat sat on the mat / ref: the cat lay on the mat
    # unigrams: 5 of 6 match each way -> F1 5/6; bigrams: the cat, on the, the mat = 3 of 5 -> 0.6;
    # longest common subsequence: "the cat on the mat" = 5 words -> 5/6.
    scores = rouge_scores(["the cat sat on the mat"], ["the cat lay on the mat"])
    assert scores["rouge1"] == pytest.approx(5 / 6)
    assert scores["rouge2"] == pytest.approx(0.6)
    assert scores["rougeL"] == pytest.approx(5 / 6)
    assert scores["rougeLsum"] == pytest.approx(5 / 6)
    assert all(type(v) is float for v in scores.values())


def test_precision_and_recall_differ_by_hand():
    # pred "a b" against ref "a b c d": precision 1, recall 1/2 -> F1 = 2/3
    assert rouge_scores(["a b"], ["a b c d"])["rouge1"] == pytest.approx(2 / 3)


def test_stemmer_matches_word_forms():
    assert rouge_scores(["running dogs"], ["run dog"], use_stemmer=True)["rouge1"] == pytest.approx(1.0)
    assert rouge_scores(["running dogs"], ["run dog"], use_stemmer=False)["rouge1"] == pytest.approx(0.0)


def test_several_references_take_the_best():
    scores = rouge_scores(["a b c"], [["x y z", "a b c"]], use_aggregator=False)
    assert scores["rouge1"] == [pytest.approx(1.0)]


def test_per_example_scores():
    scores = rouge_scores(["a b", "c d"], ["a b", "x y"], use_aggregator=False)
    assert scores["rouge1"] == [pytest.approx(1.0), pytest.approx(0.0)]


def test_aggregate_is_median_of_bootstrap_means():
    # Two examples scoring 1 and 0: a resampled mean is 0, 1/2 or 1 with odds 1:2:1, so the
    # median of 1,000 resamples is 1/2 (the plain mean would also be 1/2; see the next test).
    assert rouge_scores(["a b", "c d"], ["a b", "x y"])["rouge1"] == pytest.approx(0.5)


def test_aggregate_follows_seeded_bootstrap():
    preds = ["a b", "a", "c", "a b c", "q"]
    refs = ["a b", "a b", "a b", "a b", "a b"]
    per = np.array(rouge_scores(preds, refs, use_aggregator=False)["rouge1"])
    np.random.seed(7)  # what rouge-score's BootstrapAggregator does under evaluate's seed
    means = [per[np.random.choice(np.arange(len(per)), size=len(per))].mean() for _ in range(1000)]
    expected = float(np.percentile(means, 50))
    got = rouge_scores(preds, refs, seed=7)["rouge1"]
    assert got == pytest.approx(expected)


def test_seed_gives_same_numbers_and_restores_numpy_state():
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = rouge_scores(["a b", "a", "c"], ["a b", "a c", "c d"], seed=1)
    after = np.random.random()
    assert before == after
    assert a == rouge_scores(["a b", "a", "c"], ["a b", "a c", "c d"], seed=1)


def test_confidence_interval_brackets_median():
    ci = rouge_ci(["a b", "a", "c", "a b c"], ["a b"] * 4)
    low, mid, high = ci["rouge1"]
    assert low <= mid <= high and low < high


def test_length_mismatch_is_clear():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        rouge_scores(["a", "b"], ["a"])


def test_distinct_n_and_repeated_ngrams():
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["one"], 2) == 0.0
    assert repeated_ngrams("go go go go", 1) == pytest.approx(0.75)
    assert repeated_ngrams("the cat sat on the mat", 2) == 0.0
    with pytest.raises(LabsError, match="n=0"):
        distinct_n(["x"], 0)
