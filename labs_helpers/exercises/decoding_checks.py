"""Exercises of notebook 03 (generation configuration): top-p, temperature, distinct-n."""

from __future__ import annotations

import math
from typing import Callable, Sequence

from ..metrics import distinct_n
from .feedback import Feedback, caller, failer

HINTS = {
    "03.1": "Sort probabilities in descending order, keep the smallest prefix whose cumulative sum reaches top_p "
    "(the token that crosses p is kept), and set every other logit to -inf.",
    "03.2": "Temperature divides the logits: logits / temperature. Refuse temperature <= 0 with a ValueError.",
    "03.3": "Count distinct n-grams over all texts, divided by the total number of n-grams (0.0 when there are none).",
}
fail = failer(HINTS)
call = caller(fail)


@call.guard("03.1")
def check_top_p(function: Callable, seed: int = 0) -> Feedback:
    """Exercise 03.1: nucleus (top-p) filtering, compared with transformers' TopPLogitsWarper."""
    import torch
    from transformers import TopPLogitsWarper

    ex = "03.1"
    generator = torch.Generator().manual_seed(seed)
    for top_p in (0.1, 0.5, 0.9, 0.99):
        logits = torch.randn(4, 50, generator=generator) * 3
        got, problem = call(ex, function, logits.clone(), top_p)
        if problem is not None:
            return problem
        got = torch.as_tensor(got)
        want = TopPLogitsWarper(top_p=top_p)(None, logits.clone())
        if got.shape != want.shape:
            return fail(ex, f"the output should have the logits' shape {tuple(want.shape)}, not {tuple(got.shape)}.")
        kept_got, kept_want = torch.isfinite(got), torch.isfinite(want)
        if torch.equal(kept_got, kept_want):
            if not torch.allclose(got[kept_got], logits[kept_got]):
                return fail(ex, "the right tokens are kept, but their logits changed: leave kept logits as they are.")
            continue
        if (kept_got & ~kept_want).any() and not (~kept_got & kept_want).any():
            return fail(ex, f"with top_p={top_p} you keep tokens beyond the nucleus.")
        if (~kept_got & kept_want).any() and not (kept_got & ~kept_want).any():
            fewer = (kept_want.sum(-1) - kept_got.sum(-1)).max().item()
            if fewer == 1:
                return fail(
                    ex,
                    f"with top_p={top_p} you drop the token that makes the cumulative probability reach p: "
                    "that is the lesson's '<= p' wording; transformers keeps it.",
                )
            return fail(ex, f"with top_p={top_p} you keep too few tokens.")
        return fail(ex, f"with top_p={top_p} you keep different tokens than the nucleus: sort by probability first.")
    return Feedback(ex, True, "Your filter keeps exactly the tokens TopPLogitsWarper keeps.")


@call.guard("03.2")
def check_temperature(function: Callable, seed: int = 0) -> Feedback:
    """Exercise 03.2: temperature scaling, compared with TemperatureLogitsWarper."""
    import torch
    from transformers import TemperatureLogitsWarper

    ex = "03.2"
    logits = torch.randn(2, 10, generator=torch.Generator().manual_seed(1 + seed))
    for t in (0.5, 1.0, 2.0):
        got, problem = call(ex, function, logits.clone(), t)
        if problem is not None:
            return problem
        want = TemperatureLogitsWarper(t)(None, logits.clone())
        if not torch.allclose(torch.as_tensor(got), want):
            if torch.allclose(torch.as_tensor(got), logits * t):
                return fail(ex, "you multiplied by the temperature: divide instead (hot = flatter).")
            return fail(ex, f"at temperature {t} the result differs from logits / temperature.")
    try:
        function(logits.clone(), 0.0)
    except NotImplementedError:
        raise
    except ValueError:
        return Feedback(ex, True, "Matches TemperatureLogitsWarper and refuses temperature 0.")
    except Exception as error:
        return fail(
            ex, f"temperature 0 raised {type(error).__name__}; raise a ValueError with a clear message instead."
        )
    return fail(ex, "temperature 0 was accepted: raise a ValueError (transformers does too).")


@call.guard("03.3")
def check_distinct_n(function: Callable[[Sequence[str], int], float], seed: int = 0) -> Feedback:
    """Exercise 03.3: the distinct-n diversity measure."""
    import random

    ex = "03.3"
    cases = [
        (["a b a b"], 1),
        (["a b a b"], 2),
        (["the cat", "the cat"], 2),
        (["one"], 2),
        ([], 1),
        (["x y z", "y z w"], 2),
    ]
    if seed:  # the grader's own case, drawn afresh for each run
        draw = random.Random(seed)
        words = ["the", "cat", "sat", "on", "a", "mat", "and", "ran"]
        cases.append(([" ".join(draw.choices(words, k=draw.randint(1, 9))) for _ in range(3)], draw.randint(1, 3)))
    for texts, n in cases:
        got, problem = call(ex, function, list(texts), n)
        if problem is not None:
            return problem
        want = distinct_n(texts, n)
        if not isinstance(got, (int, float)) or not math.isclose(float(got), want, abs_tol=1e-9):
            if want == 0.0:
                return fail(ex, f"for {texts} and n={n} there are no n-grams: return 0.0.")
            return fail(
                ex,
                f"for {texts} and n={n} expected {want:.3f}, got {got!r}; "
                "count n-grams across all texts together, not per text.",
            )
    return Feedback(ex, True, "Right on every case.")
