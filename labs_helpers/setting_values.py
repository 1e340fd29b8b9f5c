"""How one ``LABS_*`` variable is read: numbers within bounds, choices, and the names the kit does not know.

Every setting that sizes work has an upper bound (``MOST``), so that a typo such as an extra zero is
refused in one sentence that names the variable, rather than running for hours.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Callable, Mapping

from . import course
from .errors import LabsError

MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit
# The most each sizing setting may ask for: far above the course's and the stand-ins' budgets
# (DialogSum has 12,460 training and 500 unique test dialogues; FLAN-T5 was trained on 512 positions).
MOST: dict[str, int] = {
    "LABS_N_EVAL": 5_000,
    "LABS_TRAIN_STEPS": 100_000,
    "LABS_TRAIN_EXAMPLES": 1_000_000,
    "LABS_BATCH_SIZE": 1_024,
    "LABS_EVAL_BATCH_SIZE": 1_024,
    "LABS_MAX_NEW_TOKENS": 512,  # T5's length limit (FLAN-T5 and the stand-ins); a model uses no more
    "LABS_PPO_STEPS": 10_000,
    "LABS_PPO_BATCH_SIZE": 1_024,
}
# Every variable the kit reads: the settings, and the browser test's own (tools/ui_test.py, tools/ui_chromium.py).
KNOWN = (
    "LABS_PROFILE",
    "LABS_MODEL",
    "LABS_STANDIN",
    "LABS_DATASET",
    "LABS_SEED",
    "LABS_DEVICE",
    "LABS_DTYPE",
    "LABS_AUTOCAST",
    "LABS_FULL_LR",
    "LABS_LORA_LR",
    "LABS_PPO_LR",
    "LABS_CACHE",
    "LABS_RUN_DIR",
    "LABS_HUB_TIMEOUT",
    "LABS_PROFILE_ASKED",  # set by make labs for its notebooks (settings.py)
    "LABS_PROFILE_NOTE",
    *MOST,
    "LABS_UI_CHROMIUM",
    "LABS_UI_TIMEOUT",
    "LABS_UI_APT_GET",
)


def number(
    env: Mapping[str, str], name: str, default: Any, parse: Callable, what: str, valid: Callable, bound: str
) -> Any:
    """``env[name]`` parsed with ``parse``, or ``default`` when unset; one clear error when it is not valid."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise LabsError(f"{name}={raw!r} is not {what}. Set it to e.g. {default:g}, or unset it.") from None
    if not valid(value):
        raise LabsError(f"{name}={raw} must be {bound}. Set it to e.g. {default:g}, or unset it.")
    return value


def whole(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole-number setting of 1 or more, at most ``MOST[name]`` when it sizes work."""
    most = MOST.get(name)
    bound = "at least 1" + (f" and at most {most}" if most else "")
    return number(env, name, default, int, "a whole number", lambda v: 1 <= v <= (most or v), bound)


def ppo_batch(env: Mapping[str, str], default: int) -> int:
    """LABS_PPO_BATCH_SIZE: a whole number in bounds and a multiple of the lab's PPO mini-batch."""
    value = whole(env, "LABS_PPO_BATCH_SIZE", default)
    mini = course.PPO_MINI_BATCH_SIZE
    if value % mini:
        raise LabsError(
            f"LABS_PPO_BATCH_SIZE={value} must be a multiple of {mini} (PPO's mini-batch). "
            f"Set it to e.g. {course.PPO_BATCH_SIZE}, or unset it."
        )
    return value


def seed(env: Mapping[str, str]) -> int:
    """LABS_SEED within what numpy accepts (0 to 2**32 - 1)."""
    return number(env, "LABS_SEED", 42, int, "a whole number", lambda v: 0 <= v <= MAX_SEED, f"0 to {MAX_SEED}")


def positive(env: Mapping[str, str], name: str, default: float, most: float = math.inf) -> float:
    """A finite number above 0 (and at most ``most``), or ``default`` when unset."""
    bound = "a finite number above 0" + (f" and at most {most:g}" if math.isfinite(most) else "")
    return number(env, name, default, float, "a number", lambda v: math.isfinite(v) and 0 < v <= most, bound)


def choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices``, or ``default`` when unset."""
    value = env.get(name) or default
    if value not in choices:
        raise LabsError(f"{name}={value!r} is not one of {', '.join(choices)}. Use one of those, or unset it.")
    return value


def unknown_variables(env: Mapping[str, str]) -> tuple[str, ...]:
    """One sentence per ``LABS_*`` variable in ``env`` that the kit does not read, with the closest known name."""
    notes = []
    for name in sorted(n for n in env if n.startswith("LABS_") and n not in KNOWN):
        close = difflib.get_close_matches(name, KNOWN, n=1, cutoff=0.8)
        guess = f"did you mean {close[0]}?" if close else "the README's Settings table lists them all."
        notes.append(f"{name} is not a setting of the kit, so it is ignored: {guess}")
    return tuple(notes)
