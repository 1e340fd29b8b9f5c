"""Exercises of notebook 01 (transformer anatomy): positional encoding, one attention head."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..anatomy import model_attentions, self_attention_by_hand, sinusoidal_encoding
from .feedback import Feedback, caller, failer

HINTS = {
    "01.1": "PE[pos, 2i] = sin(pos / 10000**(2i/d_model)) and PE[pos, 2i+1] = cos(the same angle).",
    "01.2": "T5 attention: RMS-normalise the embeddings with the layer's layer_norm, project with q and k, "
    "split into heads, scores = q @ k.T (no 1/sqrt(d)) + position bias, softmax over the last axis.",
}
HEAD_TEXT = "The summary says who wants what."  # the sentence whose attention exercise 01.2 is checked on
fail = failer(HINTS)
call = caller(fail)


@call.guard("01.1")
def check_positional_encoding(function: Callable[[int, int], Any], seed: int = 0) -> Feedback:
    """Exercise 01.1: the sinusoidal positional encoding."""
    import random

    ex = "01.1"
    sizes = [(6, 8), (50, 16), (7, 10)]
    if seed:  # the grader's own size, drawn afresh for each run
        sizes.append((random.Random(seed).randint(2, 60), 2 * random.Random(seed + 1).randint(1, 24)))
    for n, d in sizes:
        got, problem = call(ex, function, n, d)
        if problem is not None:
            return problem
        got = np.asarray(got, dtype=float)
        want = sinusoidal_encoding(n, d)
        if got.shape != want.shape:
            return fail(ex, f"for {n} positions and d_model={d} the shape should be {want.shape}, not {got.shape}.")
        if np.allclose(got, want, atol=1e-5):
            continue
        swapped = want.copy()
        swapped[:, 0::2], swapped[:, 1::2] = want[:, 1::2], want[:, 0::2]
        if np.allclose(got, swapped, atol=1e-5):
            return fail(ex, "sine and cosine are swapped: even dimensions take the sine.")
        if np.allclose(got[0], want[0], atol=1e-5):
            return fail(
                ex,
                "position 0 is right but later positions are not: check the frequencies "
                "1 / 10000**(2i/d_model), one per pair of dimensions.",
            )
        return fail(
            ex, f"the values differ from the formula (first row should be {np.round(want[0, :4], 3).tolist()}...)."
        )
    return Feedback(ex, True, "Your encoding matches the formula for every size tried.")


def attention_reference(model, input_ids, head: int):
    """Encoder layer 0, one head: the attention weights the model reports (output_attentions)."""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")  # sdpa kernels do not return the weights
    try:
        return model_attentions(model, input_ids)[0][0, head]
    finally:
        model.set_attn_implementation(previous)


@call.guard("01.2")
def check_attention_head(function: Callable, model, input_ids, head: int) -> Feedback:
    """Exercise 01.2: one head of the first encoder layer computed by hand from the weights."""
    import torch

    ex = "01.2"
    got, problem = call(ex, function, model, input_ids, head)
    if problem is not None:
        return problem
    got = torch.as_tensor(got, dtype=torch.float32)
    want = attention_reference(model, input_ids, head).float()
    if got.shape != want.shape:
        return fail(ex, f"the weights should have shape {tuple(want.shape)} (query x key), not {tuple(got.shape)}.")
    if torch.allclose(got, want, atol=1e-5):
        return Feedback(ex, True, "Your weights match the model's own within 1e-5.")
    if not torch.allclose(got.sum(-1), torch.ones(got.shape[0]), atol=1e-4):
        return fail(ex, "the rows do not sum to 1: take the softmax over the keys (the last axis).")
    parts = self_attention_by_hand(model, input_ids, layer=0)
    scores, bias = parts.scores[head], parts.bias[head]
    d = parts.queries.shape[-1]
    variants = {
        "you divided the scores by sqrt(d_kv): T5 does not scale them.": (scores / math.sqrt(d) + bias).softmax(-1),
        "the relative position bias is missing: add model's position bias for this head to the scores.": scores.softmax(
            -1
        ),
        "the weights are transposed: rows are queries, columns are keys.": (scores + bias).softmax(-1).T,
    }
    for message, variant in variants.items():
        if torch.allclose(got, variant, atol=1e-4):
            return fail(ex, message)
    return fail(
        ex,
        f"the weights differ from the model's by up to {(got - want).abs().max().item():.3f}; "
        "did you apply the layer norm before the projections?",
    )
