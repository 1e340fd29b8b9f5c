"""What a checker returns: passed or not, what was found, and a hint; and how a learner's code is called."""

from __future__ import annotations

import dataclasses
import functools
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

    def assert_passed(self) -> Feedback:
        """This feedback when it passed; else raise AssertionError with it (what a graded test cell must do)."""
        if not self.passed:
            raise AssertionError(str(self))
        return self


def failer(hints: Mapping[str, str]) -> Callable[..., Feedback]:
    """A ``fail(exercise, message, hint="")`` whose hint, when not given, is the exercise's from ``hints``."""

    def fail(exercise: str, message: str, hint: str = "") -> Feedback:
        return Feedback(exercise, False, message, hint or hints.get(exercise, ""))

    return fail


def describe(value: Any) -> str:
    """A learner's result in a few words: its type, and its shape or value."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def caller(fail: Callable[..., Feedback]) -> Callable[..., tuple[Any, Feedback | None]]:
    """A ``call(exercise, function, *args)`` that runs the learner's function and turns an exception into feedback.

    ``call.guard(exercise)`` decorates a checker so that a result it cannot use (None, the wrong type or
    shape) becomes feedback too, never a crash inside the checker.
    """
    last: dict[str, Any] = {}

    def call(exercise: str, function: Callable, *args: Any) -> tuple[Any, Feedback | None]:
        try:
            result = function(*args)
        except NotImplementedError:  # a stub: stop the notebook here, with the exercise's hint
            raise
        except Exception as error:  # the learner's code failed: say how
            return None, fail(exercise, f"your function raised {type(error).__name__}: {error}")
        last["value"] = result
        if result is None:
            return None, fail(exercise, "your function returned None: did you forget the `return`?")
        return result, None

    def guard(exercise: str) -> Callable[[Callable[..., Feedback]], Callable[..., Feedback]]:
        def decorate(check: Callable[..., Feedback]) -> Callable[..., Feedback]:
            @functools.wraps(check)
            def run(*args: Any, **kwargs: Any) -> Feedback:
                last.clear()
                try:
                    return check(*args, **kwargs)
                except NotImplementedError:
                    raise
                except Exception as error:  # the checker could not use the result: say what came back
                    got = f"your function returned {describe(last['value'])}" if last else "your answer"
                    return fail(exercise, f"{got}, which this exercise cannot use ({type(error).__name__}: {error}).")

            return run

        return decorate

    call.guard = guard  # type: ignore[attr-defined]
    return call
