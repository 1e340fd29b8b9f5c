"""Checkers for the exercises at the end of notebooks 01-06, one module per notebook.

Each checker takes the learner's answer (a function or a value), tries it on cases whose right
answer it knows (the kit's own definition of the same idea, or transformers' code), and returns a
``Feedback`` that says what is wrong and gives a hint. A notebook imports its own module:
``from labs_helpers.exercises import decoding_checks`` then ``decoding_checks.check_top_p(f)``.
"""

from __future__ import annotations

from . import anatomy_checks, decoding_checks, finetuning_checks, lora_checks, prompting_checks, rlhf_checks
from .feedback import Feedback

HINTS: dict[str, str] = {
    **anatomy_checks.HINTS,
    **prompting_checks.HINTS,
    **decoding_checks.HINTS,
    **finetuning_checks.HINTS,
    **lora_checks.HINTS,
    **rlhf_checks.HINTS,
}

__all__ = ["HINTS", "Feedback", "stub"]


def stub(exercise: str) -> None:
    """What an unsolved exercise runs: stop here with the exercise's hint."""
    raise NotImplementedError(f"Exercise {exercise} is yours to solve. Hint: {HINTS[exercise]}")
