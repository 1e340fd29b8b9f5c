"""How torch's CPU threads wait for each other: the kit's choice for a machine shared with other jobs.

torch runs its CPU kernels on OpenMP threads (GNU OpenMP in its Linux wheels). Between two kernels
each thread waits at a barrier, spinning up to ``GOMP_SPINCOUNT`` times (300,000 by default) before
it sleeps. Alone on the machine, spinning saves a wake-up; with another job on one of the cores, a
spinning thread burns the time slice its partner needs to reach the barrier, and some steps take 10
to 20 times as long. ``GOMP_SPINCOUNT=10000`` spins for a short while and then sleeps: measured
(``benchmarks/cases/contention.py``), it costs nothing alone and bounds the slow steps, where
``OMP_WAIT_POLICY=PASSIVE`` (never spin) costs a quarter to four fifths of the speed alone. The
runtime reads both once, when torch loads, so only an entry point (a command line, the runner that
starts the kernels) can choose them. Other OpenMP runtimes (macOS's) ignore the variable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

SPIN = "GOMP_SPINCOUNT"
WAIT_POLICY = "OMP_WAIT_POLICY"
THREAD_ENV: dict[str, str] = {SPIN: "10000"}
WHY = "threads spin briefly, then sleep: as fast alone, and far fewer very slow steps beside another job"


def user_chose(env: Mapping[str, str]) -> bool:
    """True when ``env`` already says how threads wait: the user's choice wins over the kit's."""
    return SPIN in env or WAIT_POLICY in env


def with_thread_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the kit's spin count added, unless the user chose how threads wait."""
    return dict(env) if user_chose(env) else {**env, **THREAD_ENV}


def apply_thread_env(environ: MutableMapping[str, str] | None = None) -> bool:
    """Put the kit's spin count into this process's environment; True if it takes effect here (torch not loaded)."""
    target = os.environ if environ is None else environ
    if not user_chose(target):
        target.update(THREAD_ENV)
    return "torch" not in sys.modules


def thread_note(env: Mapping[str, str], threads: int) -> str:
    """The run card's line: how many threads, how they wait, and why."""
    if env.get(SPIN) == THREAD_ENV[SPIN] and WAIT_POLICY not in env:
        return f"{threads}, {SPIN}={THREAD_ENV[SPIN]} ({WHY})"
    chosen = ", ".join(f"{name}={env[name]}" for name in (SPIN, WAIT_POLICY) if name in env)
    if chosen:
        return f"{threads}, {chosen} (your choice)"
    return (
        f"{threads}, torch's default wait (threads spin: slow beside another job; "
        f"`make lab` and `make labs` set {SPIN}={THREAD_ENV[SPIN]})"
    )
