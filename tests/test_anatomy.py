"""labs_helpers.anatomy and labs_helpers.plots on the instant stand-in: the hand-written steps equal the model's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labs_helpers import anatomy, plots
from labs_helpers.errors import LabsError
from labs_helpers.prompting import format_prompt

TEXT = "#Person1#: Could you help me carry these boxes upstairs?\n#Person2#: Sure, give me a minute."


@pytest.fixture(scope="module")
def eager(standin_path):
    """The stand-in loaded so that it returns attention weights (eager attention, float32)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path, dtype=torch.float32, attn_implementation="eager").eval()
    return model, tokenizer


def test_sinusoidal_encoding_matches_the_formula():
    pe = anatomy.sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16)
    np.testing.assert_allclose(pe[0], [0, 1] * 8)  # position 0: sin 0, cos 0
    pos, i = 7, 3
    angle = pos / 10000 ** (2 * i / 16)
    assert pe[pos, 2 * i] == pytest.approx(math.sin(angle))
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle))
    assert np.abs(pe).max() <= 1.0


def test_sinusoidal_encoding_rejects_odd_width():
    with pytest.raises(ValueError, match="even d_model"):
        anatomy.sinusoidal_encoding(10, 7)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_buckets_equal_t5s_own(bidirectional):
    from transformers.models.t5.modeling_t5 import T5Attention

    distances = torch.arange(-300, 301)
    ours = anatomy.relative_position_bucket(distances, bidirectional, 32, 128)
    theirs = T5Attention._relative_position_bucket(
        distances, bidirectional=bidirectional, num_buckets=32, max_distance=128
    )
    assert torch.equal(ours, theirs)
    assert ours.min() >= 0 and ours.max() <= 31


def test_bucket_matrix_is_distance_key_minus_query():
    buckets = anatomy.relative_position_buckets(3, 4)
    assert buckets.shape == (3, 4)
    assert buckets[0, 0] == buckets[2, 2] == 0  # distance 0
    assert buckets[0, 1] == 17 and buckets[1, 0] == 1  # one step ahead vs one step back


def test_rms_norm_equals_t5_layer_norm(eager):
    model, _ = eager
    norm = model.encoder.block[0].layer[0].layer_norm
    x = torch.randn(5, model.config.d_model)
    with torch.no_grad():
        assert torch.allclose(anatomy.rms_norm(x, norm.weight, norm.variance_epsilon), norm(x), atol=1e-6)


def test_hand_attention_equals_output_attentions_every_layer(eager):
    model, tokenizer = eager
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    reported = anatomy.model_attentions(model, ids)
    assert len(reported) == model.config.num_layers
    for layer, from_model in enumerate(reported):
        parts = anatomy.self_attention_by_hand(model, ids, layer=layer)
        heads, tokens = model.config.num_heads, ids.shape[1]
        assert parts.weights.shape == (heads, tokens, tokens)
        assert (parts.weights - from_model[0]).abs().max() < 1e-5
        assert torch.allclose(parts.weights.sum(-1), torch.ones(heads, tokens), atol=1e-5)


def test_hand_attention_output_equals_the_layer(eager):
    model, tokenizer = eager
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    parts = anatomy.self_attention_by_hand(model, ids, layer=0)
    sublayer = model.encoder.block[0].layer[0]
    with torch.no_grad():
        hidden = model.encoder.embed_tokens(ids)
        expected = sublayer(hidden)[0][0] - hidden[0]  # the sublayer adds its output to its input
    assert (parts.output - expected).abs().max() < 1e-5


def test_hand_attention_needs_the_scaling_and_bias_it_uses(eager):
    """Dividing by sqrt(d_kv) or dropping the bias gives different weights: the test can fail."""
    model, tokenizer = eager
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    parts = anatomy.self_attention_by_hand(model, ids)
    reported = anatomy.model_attentions(model, ids)[0][0]
    scaled = torch.softmax(parts.scores / math.sqrt(model.config.d_kv) + parts.bias, dim=-1)
    unbiased = torch.softmax(parts.scores, dim=-1)
    assert (scaled - reported).abs().max() > 1e-3
    assert (unbiased - reported).abs().max() > 1e-3


def test_hand_attention_errors(eager, standin_path):
    from transformers import AutoModelForSeq2SeqLM

    model, tokenizer = eager
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    with pytest.raises(LabsError, match="layers 0 to 1"):
        anatomy.self_attention_by_hand(model, ids, layer=5)
    with pytest.raises(LabsError, match="one sequence"):
        anatomy.self_attention_by_hand(model, ids[0])
    with pytest.raises(LabsError, match="not a T5-family"):
        anatomy.self_attention_by_hand(torch.nn.Linear(2, 2), ids)
    sdpa = AutoModelForSeq2SeqLM.from_pretrained(standin_path, dtype=torch.float32, attn_implementation="sdpa")
    with pytest.raises(LabsError, match='attn_implementation="eager"'):  # SDPA never returns the weights
        anatomy.model_attentions(sdpa, ids)


def test_token_lengths_count_eos_and_do_not_truncate(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    lengths = anatomy.token_lengths(tokenizer, ["Hello", "Hello " * 600])
    assert lengths[0] == len(tokenizer("Hello").input_ids)
    assert tokenizer("Hello").input_ids[-1] == tokenizer.eos_token_id
    assert lengths[1] > tokenizer.model_max_length


def test_prompt_lengths_of_the_test_split(dataset, model_and_tokenizer):
    from labs_helpers import group_references

    _, tokenizer = model_and_tokenizer
    test = group_references(dataset["test"])
    prompts = [format_prompt("instruction", d) for d in test["dialogue"]]
    lengths = anatomy.token_lengths(tokenizer, prompts)
    assert len(lengths) == len(test) and min(lengths) > 10
    # The prompt adds tokens of its own to every dialogue.
    assert all(p > d for p, d in zip(lengths, anatomy.token_lengths(tokenizer, test["dialogue"])))


def test_cosine_and_nearest_tokens(eager):
    model, tokenizer = eager
    a = torch.tensor([1.0, 0.0])
    assert anatomy.cosine(a, a) == pytest.approx(1.0)
    assert anatomy.cosine(a, torch.tensor([0.0, 2.0])) == pytest.approx(0.0)
    found = anatomy.nearest_tokens(model, tokenizer, "dinner", k=5)
    assert len(found) == 5
    sims = [s for _, s in found]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 for s in sims)
    first = tokenizer.convert_ids_to_tokens(tokenizer("dinner", add_special_tokens=False).input_ids[0])
    assert first not in [t for t, _ in found]


def test_word_vectors_same_input_different_context(eager):
    model, tokenizer = eager
    money = "#Person1#: I have to stop at the bank to deposit my salary."
    river = "#Person1#: Let's have our picnic on the bank of the river."
    positions = anatomy.word_token_positions(tokenizer, money, "bank")
    assert positions and "bank" in tokenizer.decode(tokenizer(money).input_ids[positions[0] : positions[-1] + 1])
    e1, c1 = anatomy.word_vectors(model, tokenizer, money, "bank")
    e2, c2 = anatomy.word_vectors(model, tokenizer, river, "bank")
    assert e1.shape == c1.shape == (model.config.d_model,)
    assert anatomy.cosine(e1, e2) == pytest.approx(1.0)  # the lookup table does not see the context
    assert anatomy.cosine(c1, c2) < 0.9999  # the encoder does
    with pytest.raises(LabsError, match="does not occur"):
        anatomy.word_token_positions(tokenizer, money, "ban")


@pytest.mark.parametrize("index", [0, 1])
def test_greedy_loop_equals_generate(eager, dataset, index):
    model, tokenizer = eager
    dialogue = sorted(set(dataset["test"]["dialogue"]), key=len)[index]
    inputs = tokenizer(format_prompt("instruction", dialogue), return_tensors="pt")
    ids, steps = anatomy.greedy_decode(model, inputs.input_ids, max_new_tokens=12, attention_mask=inputs.attention_mask)
    generated = model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=12)
    assert torch.equal(ids, generated)
    assert ids[0, 0] == model.config.decoder_start_token_id and len(steps) == ids.shape[1] - 1
    for step, token in zip(steps, ids[0, 1:]):
        assert step.token_id == int(token) == step.candidates[0][0]
        probs = [p for _, p in step.candidates]
        assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


class _EosFirst(torch.nn.Module):
    """An LM head that makes EOS by far the most likely next token."""

    def __init__(self, head, eos):
        super().__init__()
        self.head, self.eos = head, eos

    def forward(self, hidden):
        logits = self.head(hidden)
        logits[..., self.eos] += 1e4
        return logits


def test_greedy_loop_stops_at_eos(eager):
    model, tokenizer = eager
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    eos = model.config.eos_token_id
    head = model.lm_head
    model.lm_head = _EosFirst(head, eos)
    try:
        out, steps = anatomy.greedy_decode(model, ids, max_new_tokens=10)
    finally:
        model.lm_head = head
    assert out.tolist() == [[model.config.decoder_start_token_id, eos]] and len(steps) == 1
    assert steps[0].candidates[0] == (eos, pytest.approx(1.0))


def test_cross_attention_shape_and_rows(eager):
    model, tokenizer = eager
    inputs = tokenizer(TEXT, return_tensors="pt")
    ids, _ = anatomy.greedy_decode(model, inputs.input_ids, max_new_tokens=6)
    weights = anatomy.cross_attention(model, inputs.input_ids, ids[:, :-1])
    assert weights.shape == (model.config.num_heads, ids.shape[1] - 1, inputs.input_ids.shape[1])
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:2]), atol=1e-5)


def test_plots_draw_the_expected_axes(eager):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    ax = plots.positional_encoding(anatomy.sinusoidal_encoding(20, 8))
    assert ax.get_xlabel() == "dimension" and ax.images[0].get_array().shape == (20, 8)
    weights = torch.softmax(torch.randn(4, 6, 6), dim=-1)
    fig = plots.attention_grid(weights, list("abcdef"), title="grid")
    assert len([a for a in fig.axes if a.images]) == 4
    fig2 = plots.relative_bias(torch.randn(32, 4), range(-5, 6), torch.randn(11, 4))
    assert len(fig2.axes[1].lines) == 4
    ax3 = plots.heatmap(torch.rand(3, 150), x_labels=[str(i) for i in range(150)], y_labels=list("abc"), xlabel="key")
    assert len(ax3.get_xticks()) <= plots.MAX_LABELS
    assert ax3.get_xlabel() == "key (every second token labelled)" and ax3.get_ylabel() == ""
    ax4 = plots.heatmap(torch.rand(3, 75), x_labels=[str(i) for i in range(75)], xlabel="prompt token")
    assert len(ax4.get_xticks()) == 75 and ax4.get_xlabel() == "prompt token"  # notebook 01's prompt: every token
    with pytest.raises(ValueError, match="one label per entry"):
        plots.heatmap(torch.rand(3, 4), x_labels=list("ab"))
    plt.close("all")
