"""Exercises of notebook 02 (prompt engineering): a template, shots that fit a budget."""

from __future__ import annotations

from typing import Callable, Sequence

from ..prompting import fit_shots
from .feedback import Feedback, caller, failer

HINTS = {
    "02.1": "Keep exactly one {dialogue} placeholder and end with a cue for the summary, e.g. 'Summary:'.",
    "02.2": "Walk through the shots in order and stop at the first one that would push the total over the budget.",
}
fail = failer(HINTS)
call = caller(fail)


@call.guard("02.1")
def check_template(
    template: str,
    tokenizer=None,
    dialogues: Sequence[str] = (),
    max_tokens: int = 512,
    scores: tuple[float, float] | None = None,
) -> Feedback:
    """Exercise 02.1: a template that leaves the dialogue room and (with a real model) beats zero-shot."""
    ex = "02.1"
    if not isinstance(template, str):
        return fail(ex, f"the template should be a string, not {type(template).__name__}.")
    count = template.count("{dialogue}")
    if count != 1:
        return fail(ex, f"the template has {count} '{{dialogue}}' placeholders; it needs exactly one.")
    try:
        template.format(dialogue="x")
    except (KeyError, IndexError, ValueError) as error:
        return fail(
            ex, f"the template has other braces Python cannot fill ({error!r}); double them as '{{{{' and '}}}}'."
        )
    fit = ""
    if tokenizer is not None:
        # A few dialogues nearly fill the window alone (DialogSum's test split has one of 508 FLAN-T5
        # tokens), so no template fits them all; what the template decides is how much it takes itself.
        own, allowed = len(tokenizer(template.format(dialogue="")).input_ids), max_tokens // 8
        if own > allowed:
            return fail(
                ex,
                f"the template's own words take {own} tokens; keep them to {allowed} of the {max_tokens}-token "
                "context window, so that the dialogue keeps the rest.",
            )
        over = sum(len(tokenizer(template.format(dialogue=d)).input_ids) > max_tokens for d in dialogues)
        fit = f" It takes {own} tokens itself; {over} of {len(dialogues)} prompts are still over {max_tokens}."
    if scores is not None:
        mine, baseline = scores
        if mine <= baseline:
            return fail(
                ex,
                f"ROUGE-1 {mine:.4f} does not beat the zero-shot baseline {baseline:.4f} yet.",
                "Try FLAN-T5's own phrasing ('What was going on?') or name the speakers' roles.",
            )
        return Feedback(ex, True, f"ROUGE-1 {mine:.4f} beats zero-shot {baseline:.4f}.{fit}")
    return Feedback(
        ex,
        True,
        "The template is well formed and leaves the dialogue room (with a stand-in model the scores are not "
        f"compared).{fit}",
    )


@call.guard("02.2")
def check_fit_shots(function: Callable[[Sequence[int], int, int], Sequence[int]], seed: int = 0) -> Feedback:
    """Exercise 02.2: pick as many leading shots as fit a token budget."""
    import random

    ex = "02.2"
    cases = [
        ([100, 100, 100], 150, 512),
        ([300, 50], 300, 512),
        ([10, 10], 600, 512),
        ([], 20, 512),
        ([200, 12, 100], 300, 512),
        ([100, 100], 312, 512),
    ]
    if seed:  # the grader's own case, drawn afresh for each run
        draw = random.Random(seed)
        cases.append(([draw.randint(20, 200) for _ in range(draw.randint(1, 6))], draw.randint(50, 300), 512))
    for lengths, target, budget in cases:
        got, problem = call(ex, function, list(lengths), target, budget)
        if problem is not None:
            return problem
        want = fit_shots(lengths, target, budget)
        if list(got) != want:
            detail = f"shots of {lengths} tokens, target {target}, budget {budget}: expected {want}, got {list(got)}."
            if target > budget and got:
                return fail(ex, "the target alone is over the budget, so no shot fits. " + detail)
            if len(got) > len(want):
                return fail(
                    ex,
                    "you took a shot that does not fit; a total exactly at the budget fits, one over does not. "
                    + detail,
                )
            if want and got and list(got) == want[: len(got)]:
                return fail(ex, "you stopped too early (a total equal to the budget still fits). " + detail)
            return fail(ex, "keep the shots in their order and stop at the first that does not fit. " + detail)
    return Feedback(ex, True, "Every budget case is right.")
