"""How torch's CPU threads wait for each other: the kit's choice for a machine shared with other jobs.

torch runs its CPU kernels on OpenMP threads. Between two kernels each thread waits at a barrier,
and by default (GNU OpenMP) it *spins* there for a while before it sleeps. Alone on the machine
that saves a wake-up; with another job on one of the cores, the spinning thread burns the time slice
that its partner needs to reach the barrier, and every step slows down many times over.
``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep at once. The OpenMP runtime reads it once,
when torch loads, so only an entry point (a command line, the runner that starts the kernels) can
choose it, before anything imports torch. ``benchmarks/cases/contention.py`` measures the choice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

WAIT_POLICY = "OMP_WAIT_POLICY"
THREAD_ENV: dict[str, str] = {WAIT_POLICY: "PASSIVE"}
WHY = "threads sleep instead of spinning while they wait, so a job beside this one slows it far less"


def with_thread_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the kit's wait policy added, unless it already names one (the user's choice wins)."""
    return {**THREAD_ENV, **env}


def apply_thread_env(environ: MutableMapping[str, str] | None = None) -> bool:
    """Put the kit's wait policy into this process's environment; True if it takes effect here (torch not loaded)."""
    target = os.environ if environ is None else environ
    for name, value in THREAD_ENV.items():
        target.setdefault(name, value)
    return "torch" not in sys.modules


def thread_note(env: Mapping[str, str], threads: int) -> str:
    """The run card's line: how many threads, how they wait, and why."""
    policy = env.get(WAIT_POLICY, "").upper()
    if policy == THREAD_ENV[WAIT_POLICY]:
        return f"{threads}, OpenMP wait passive ({WHY})"
    if policy:
        return f"{threads}, OpenMP wait {policy.lower()} (set by {WAIT_POLICY})"
    return (
        f"{threads}, OpenMP wait: torch's default (threads spin: slow beside another job; "
        f"`make lab` and `make labs` set {WAIT_POLICY}=PASSIVE)"
    )
