"""What a checker returns: passed or not, what was found, and a hint; and how a learner's code is called."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping


@dataclasses.dataclass
class Feedback:
    """The outcome of one check: passed or not, what was found, and a hint when it failed."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""

    def __str__(self) -> str:
        if self.passed:
            return f"Exercise {self.exercise}: passed. {self.message}".rstrip()
        return f"Exercise {self.exercise}: not yet. {self.message}\n  Hint: {self.hint}"

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.passed


def failer(hints: Mapping[str, str]) -> Callable[..., Feedback]:
    """A ``fail(exercise, message, hint="")`` whose hint, when not given, is the exercise's from ``hints``."""

    def fail(exercise: str, message: str, hint: str = "") -> Feedback:
        return Feedback(exercise, False, message, hint or hints.get(exercise, ""))

    return fail


def caller(fail: Callable[..., Feedback]) -> Callable[..., tuple[Any, Feedback | None]]:
    """A ``call(exercise, function, *args)`` that runs the learner's function and turns an exception into feedback."""

    def call(exercise: str, function: Callable, *args: Any) -> tuple[Any, Feedback | None]:
        try:
            return function(*args), None
        except NotImplementedError:  # a stub: stop the notebook here, with the exercise's hint
            raise
        except Exception as error:  # the learner's code failed: say how
            return None, fail(exercise, f"your function raised {type(error).__name__}: {error}")

    return call
