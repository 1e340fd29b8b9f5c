"""labs_helpers.sampling against transformers' own logits warpers, and its plots and explorer."""

import numpy as np
import pytest
import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from labs_helpers import sampling


def random_cases(n: int, seed: int = 0):
    """(logits [rows, vocab] float32, top_k, top_p, min_tokens_to_keep) with varied sizes and scales."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        vocab = int(torch.randint(2, 80, (1,), generator=g))
        scale = float(torch.rand(1, generator=g)) * 6 + 0.1
        logits = torch.randn(3, vocab, generator=g) * scale
        top_k = int(torch.randint(1, vocab + 5, (1,), generator=g))
        top_p = float(torch.rand(1, generator=g)) * 0.999 + 0.001
        min_keep = int(torch.randint(1, 4, (1,), generator=g))
        yield logits, top_k, top_p, min_keep


def kept(warper, logits: torch.Tensor) -> np.ndarray:
    return (warper(None, logits.clone()) > -float("inf")).numpy()


def test_toy_distribution_is_the_lessons():
    words, probs = sampling.toy_distribution()
    assert words[:4] == ["cake", "donut", "banana", "apple"]
    assert probs[:4].tolist() == [0.20, 0.10, 0.02, 0.01]
    assert len(words) == len(set(words)) == len(probs) == sampling.TOY_VOCAB_SIZE
    assert probs.sum() == pytest.approx(1.0)
    assert probs[4:].max() < 0.01 and np.all(np.diff(probs[4:]) < 0)
    with pytest.raises(ValueError, match="vocab_size=4"):
        sampling.toy_distribution(4)


def test_softmax_with_temperature_equals_temperature_warper():
    for logits, *_ in random_cases(50):
        for t in (0.1, 0.5, 1.0, 2.0, 5.0):
            # float64 on both sides: at T=0.1 float32 rounding alone moves probabilities by 1e-6
            theirs = TemperatureLogitsWarper(t)(None, logits.double()).softmax(-1).numpy()
            np.testing.assert_allclose(sampling.softmax(logits.numpy(), temperature=t), theirs, atol=1e-6)


def test_temperature_limits():
    logits = np.array([2.0, 1.0, 0.0])
    assert sampling.softmax(logits, 0.01)[0] == pytest.approx(1.0)  # cold: greedy
    np.testing.assert_allclose(sampling.softmax(logits, 1e4), 1 / 3, atol=1e-3)  # hot: uniform
    assert sampling.softmax(np.array([1000.0, 0.0]))[0] == 1.0  # no overflow


def test_top_k_equals_top_k_warper():
    for logits, top_k, _, min_keep in random_cases(300):
        theirs = kept(TopKLogitsWarper(top_k, min_tokens_to_keep=min_keep), logits)
        np.testing.assert_array_equal(sampling.top_k_mask(logits.numpy(), top_k, min_keep), theirs)


def test_top_k_keeps_ties_like_transformers():
    logits = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0]])
    theirs = kept(TopKLogitsWarper(2), logits)
    ours = sampling.top_k_mask(logits.numpy(), 2)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.sum() == 3  # the token tied with the 2nd is kept as well


def test_top_p_equals_top_p_warper():
    for logits, _, top_p, min_keep in random_cases(500, seed=1):
        theirs = kept(TopPLogitsWarper(top_p, min_tokens_to_keep=min_keep), logits)
        np.testing.assert_array_equal(sampling.top_p_mask(logits.numpy(), top_p, min_keep), theirs)
    for logits, *_ in random_cases(20, seed=2):  # p = 1 keeps everything
        np.testing.assert_array_equal(sampling.top_p_mask(logits.numpy(), 1.0), kept(TopPLogitsWarper(1.0), logits))


def test_top_p_keeps_the_token_that_crosses_p():
    words, probs = sampling.toy_distribution()
    logits = np.log(probs)
    chosen = lambda mask: [words[i] for i in np.flatnonzero(mask)]  # noqa: E731
    # (p = 0.3 exactly is where cake + donut land: there rounding decides, in every implementation.)
    cases = ((0.1, ["cake"]), (0.25, ["cake", "donut"]), (0.29, ["cake", "donut"]), (0.31, ["cake", "donut", "banana"]))
    for p, expected in cases:
        assert chosen(sampling.top_p_mask(logits, p)) == expected
        theirs = kept(TopPLogitsWarper(p), torch.tensor(logits, dtype=torch.float32)[None])[0]
        assert chosen(theirs) == expected
    # The lesson's literal "<= p": nothing at 0.1, cake alone at 0.25, and at 0.3 floating point drops donut.
    assert chosen(sampling.top_p_mask_lesson(probs, 0.1)) == []
    assert chosen(sampling.top_p_mask_lesson(probs, 0.25)) == ["cake"]
    assert chosen(sampling.top_p_mask_lesson(probs, 0.3)) == ["cake"]
    assert chosen(sampling.top_p_mask_lesson(probs, 0.31)) == ["cake", "donut"]


def test_top_p_ties_keep_as_many_as_transformers():
    # Which of two tied tokens survives a cut through them is an arbitrary tie-break (we keep the
    # lower id); how many survive is not.
    logits = torch.log(torch.tensor([[0.4, 0.2, 0.2, 0.2]]))
    for p in (0.3, 0.5, 0.7, 0.9):
        theirs = kept(TopPLogitsWarper(p), logits)
        ours = sampling.top_p_mask(logits.numpy(), p)
        assert ours.sum() == theirs.sum() and ours[0, 0] and theirs[0, 0]


def test_chain_equals_generate_order():
    for logits, top_k, top_p, _ in random_cases(200, seed=3):
        for t in (0.5, 1.3):
            warpers = LogitsProcessorList(
                [TemperatureLogitsWarper(t), TopKLogitsWarper(top_k), TopPLogitsWarper(top_p)]
            )
            theirs = warpers(None, logits.double()).softmax(-1).numpy()
            ours = sampling.next_token_probs(logits.numpy(), temperature=t, top_k=top_k, top_p=top_p)
            np.testing.assert_array_equal(ours > 0, theirs > 0)
            np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_greedy_is_argmax_first_on_ties():
    assert sampling.greedy(np.array([0.1, 0.5, 0.5])) == 1
    np.testing.assert_array_equal(sampling.greedy(np.array([[1.0, 2.0], [3.0, 0.0]])), [1, 0])


def test_sample_matches_probabilities_and_never_draws_removed_tokens():
    words, probs = sampling.toy_distribution()
    draws = sampling.sample(probs, n=20_000, seed=0)
    freq = np.bincount(draws, minlength=len(probs)) / len(draws)
    se = np.sqrt(probs * (1 - probs) / len(draws))
    assert np.all(np.abs(freq - probs) < 5 * se + 1e-12)
    np.testing.assert_array_equal(draws, sampling.sample(probs, n=20_000, seed=0))  # seeded: same draws
    filtered = sampling.next_token_probs(np.log(probs), top_k=2)
    assert set(sampling.sample(filtered, n=5_000, seed=1).tolist()) == {0, 1}
    with pytest.raises(ValueError, match="non-negative"):
        sampling.sample(np.array([0.5, -0.1]))


@pytest.mark.parametrize(
    "bad, ours, theirs",
    [
        (0.0, lambda v: sampling.softmax(np.zeros(3), v), lambda v: TemperatureLogitsWarper(v)),
        (-1.0, lambda v: sampling.softmax(np.zeros(3), v), lambda v: TemperatureLogitsWarper(v)),
    ],
)
def test_bad_temperature_fails_like_transformers(bad, ours, theirs):
    with pytest.raises(ValueError, match="strictly positive float") as mine:
        ours(bad)
    with pytest.raises(ValueError, match="strictly positive float"):
        theirs(bad)
    assert f"(={bad})" in str(mine.value)
    if bad == 0.0:
        assert "do_sample=False" in str(mine.value)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_top_k_fails_like_transformers(bad):
    with pytest.raises(ValueError, match="`top_k` has to be a strictly positive integer"):
        sampling.top_k_mask(np.zeros(3), bad)
    if not isinstance(bad, bool):
        with pytest.raises(ValueError, match="`top_k` has to be a strictly positive integer"):
            TopKLogitsWarper(bad)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_bad_top_p_fails(bad):
    with pytest.raises(ValueError, match=r"`top_p` has to be a float > 0 and <= 1, but is"):
        sampling.top_p_mask(np.zeros(3), bad)
    with pytest.raises(ValueError, match="top_p"):
        sampling.next_token_probs(np.zeros(3), top_p=bad)
    if bad != 0.0:  # TopPLogitsWarper itself accepts 0 (then keeps one token); we refuse it
        with pytest.raises(ValueError, match="`top_p` has to be a float > 0"):
            TopPLogitsWarper(bad)


def test_bad_min_tokens_to_keep():
    with pytest.raises(ValueError, match="min_tokens_to_keep"):
        sampling.top_k_mask(np.zeros(3), 1, min_tokens_to_keep=0)


def test_top_tokens():
    words, probs = sampling.toy_distribution()
    assert sampling.top_tokens(probs, words, n=2) == [("cake", 0.2), ("donut", 0.1)]


def test_plots_draw(monkeypatch):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from labs_helpers import sampling_plots as splots

    words, probs = sampling.toy_distribution()
    logits = np.log(probs)
    ax = splots.plot_distribution(words, probs, top=5, keep=sampling.top_p_mask(logits, 0.5))
    assert len(ax.patches) == 7  # five words, then the tail's kept and removed parts
    assert ax.patches[5].get_height() + ax.patches[6].get_height() == pytest.approx(probs[5:].sum())
    assert len(splots.plot_temperatures(words, logits, [0.5, 1, 2]).axes) == 3
    assert len(splots.plot_filters(words, logits, [("k", sampling.top_k_mask(logits, 2))]).axes) == 1
    splots.plot_draws(words, probs, sampling.sample(probs, 100, seed=0))
    table = pd.DataFrame({"temperature": [0.0, 1.0], "rougeL": [0.3, 0.2], "distinct_2": [0.5, 0.8]})
    assert len(splots.plot_sweep(table).axes) == 2
    plt.close("all")


def test_explorer_outside_a_kernel_draws_a_static_figure(capsys):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from labs_helpers import sampling_plots as splots

    words, probs = sampling.toy_distribution()
    plt.close("all")
    assert splots.explorer(words, np.log(probs), temperature=0.5, top_k=3) is None
    assert plt.get_fignums()  # the static figure
    assert capsys.readouterr().out == ""
    plt.close("all")


def test_explorer_in_a_kernel_offers_widget_and_picture(monkeypatch, capsys):
    import IPython

    from labs_helpers import sampling_plots as splots

    class FakeShell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell())
    words, probs = sampling.toy_distribution()
    shown = splots.explorer(words, np.log(probs))
    bundle = shown._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    sliders = shown.box.children[:3]
    image = shown.box.children[3]
    before = image.value
    sliders[1].value = 2  # top_k=2: the picture is redrawn
    assert image.value != before and image.value[:4] == b"\x89PNG"
    assert capsys.readouterr().out == ""
