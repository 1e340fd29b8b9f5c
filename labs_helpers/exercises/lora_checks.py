"""Exercises of notebook 05 (PEFT / LoRA): LoRA's parameter count, a paired bootstrap."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .. import course
from ..lora import add_lora
from .feedback import Feedback, caller, failer

HINTS = {
    "05.1": "A LoRA pair on a Linear(in, out) adds r*in + r*out parameters; count every module whose name "
    "ends with one of the target names.",
    "05.2": "Resample example indices with replacement (same indices for both systems) and count how often "
    "the mean of 'after' beats the mean of 'before'.",
}
fail = failer(HINTS)
call = caller(fail)


def lora_reference(model, r: int, target_modules: Sequence[str]) -> int:
    """LoRA's trainable parameters, counted by peft itself on a copy of the model."""
    import copy

    config = course.lora_config(r=r, lora_alpha=r, target_modules=list(target_modules))
    peft_model = add_lora(copy.deepcopy(model), config)
    return sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


@call.guard("05.1")
def check_lora_count(function: Callable, model, seed: int = 0) -> Feedback:
    """Exercise 05.1: predict LoRA's trainable parameters without peft."""
    import random

    ex = "05.1"
    cases = [(32, ["q", "v"]), (8, ["q", "k", "v", "o"]), (4, ["wi_0", "wo"])]
    if seed:  # the grader's own case, drawn afresh for each run
        draw = random.Random(seed)
        cases.append((draw.randint(1, 16), draw.sample(["q", "k", "v", "o", "wi_0", "wi_1", "wo"], draw.randint(1, 4))))
    for r, targets in cases:
        got, problem = call(ex, function, model, r, targets)
        if problem is not None:
            return problem
        want = lora_reference(model, r, targets)
        if got != want:
            if isinstance(got, int) and got * 2 == want:
                return fail(
                    ex,
                    f"r={r}, {targets}: you count half ({got:,} of {want:,}): each adapter has two "
                    "matrices, A (r x in) and B (out x r).",
                )
            if isinstance(got, int) and 0 < got < want:
                return fail(
                    ex,
                    f"r={r}, {targets}: {got:,} instead of {want:,}: count every matching module, "
                    "in the encoder and in both decoder attentions (self and cross).",
                )
            return fail(ex, f"r={r}, {targets}: expected {want:,} trainable parameters, got {got!r}.")
    return Feedback(ex, True, "Your count matches peft's for every rank and target set tried.")


def paired_bootstrap_reference(before: Sequence[float], after: Sequence[float], n: int = 1000, seed: int = 0) -> float:
    """Share of paired bootstrap resamples in which 'after' has the higher mean."""
    rng = np.random.default_rng(seed)
    b, a = np.asarray(before, float), np.asarray(after, float)
    idx = rng.integers(0, len(b), size=(n, len(b)))
    return float((a[idx].mean(1) > b[idx].mean(1)).mean())


@call.guard("05.2")
def check_paired_bootstrap(function: Callable, seed: int = 0) -> Feedback:
    """Exercise 05.2: a paired bootstrap of per-example ROUGE before and after fine-tuning."""
    ex = "05.2"
    rng = np.random.default_rng(3 + seed)
    before = rng.uniform(0.1, 0.3, 40)
    cases = [(before, before + 0.1, 1.0), (before, before - 0.1, 0.0)]
    noisy_after = before + rng.normal(0.0, 0.05, 40)
    for b, a, expected in cases:
        got, problem = call(ex, function, list(b), list(a))
        if problem is not None:
            return problem
        if not isinstance(got, (int, float)) or abs(float(got) - expected) > 1e-9:
            return fail(ex, f"when every example improves the answer is {expected:.1f}, you gave {got!r}.")
    got, problem = call(ex, function, list(before), list(noisy_after))
    if problem is not None:
        return problem
    want = paired_bootstrap_reference(before, noisy_after)
    if abs(float(got) - want) > 0.08:
        return fail(
            ex,
            f"on noisy data expected about {want:.2f}, got {float(got):.2f}: resample the SAME indices "
            "for before and after (pairs), with replacement.",
        )
    return Feedback(ex, True, f"about {want:.2f} on the noisy case, as expected.")
