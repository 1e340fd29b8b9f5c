"""Section 6, contention: a training step and a batched generation, alone and beside one competing job.

Each measurement is a child process (the OpenMP runtime reads its wait policy once, when torch loads)
that builds a stand-in-sized T5 (the pre-trained stand-in's width, random weights) and times its steps.
The competing job is another torch process multiplying matrices with its default threads, at the same
priority or at nice 15. Thread policies: torch's default (2 threads that spin up to 300,000 times at a
barrier), ``OMP_WAIT_POLICY=PASSIVE`` (they sleep at once), 1 thread, and ``GOMP_SPINCOUNT=10000``
(spin briefly, then sleep); the kit's choice (``labs_helpers.threads``) is marked.
Rounds alternate every (policy, neighbour) cell, so all meet the same load; within a round, step i of a
cell pairs with step i of the cell it is compared with.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import entry, log

KIT_ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("train step", "generation")
NEIGHBOURS = ("alone", "same priority", "nice 15")
POLICIES: dict[str, dict[str, str]] = {
    "torch default": {},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
}
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
COMPETITOR = "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a @ a\n"


def policies() -> dict[str, dict[str, str]]:
    """The policies measured: the fixed ones, the kit's own default (``labs_helpers.threads``) marked or added."""
    from labs_helpers.threads import THREAD_ENV

    named = {f"{name} (kit default)" if env == THREAD_ENV else name: env for name, env in POLICIES.items()}
    return named if THREAD_ENV in POLICIES.values() else named | {"kit default": dict(THREAD_ENV)}


def worker(spec: dict[str, Any]) -> list[float]:
    """In the child: seconds per timed step of ``spec['workload']`` on a stand-in-sized T5 (after warm-up)."""
    import torch

    from labs_helpers.standin.architecture import config_for, random_model

    torch.manual_seed(0)
    model = random_model(spec["vocab"], seed=0, config=config_for(spec["d_model"]))
    batch, length = spec["batch"], spec["input_tokens"]
    inputs = torch.randint(2, spec["vocab"], (batch, length))
    mask = torch.ones_like(inputs)
    if spec["workload"] == "train step":
        labels = torch.randint(2, spec["vocab"], (batch, spec["target_tokens"]))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step() -> None:
            loss = model(input_ids=inputs, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    else:
        model.eval()
        new = spec["new_tokens"]

        def step() -> None:
            with torch.inference_mode():
                model.generate(input_ids=inputs, attention_mask=mask, max_new_tokens=new, min_new_tokens=new)

    for _ in range(spec["warmup"]):
        step()
    seconds = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


def _child_env(policy: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    return env | policy | {"TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}


def _start_neighbour(neighbour: str) -> subprocess.Popen | None:
    if neighbour == "alone":
        return None
    nice = 15 if neighbour == "nice 15" else 0
    env = _child_env({})
    job = subprocess.Popen([sys.executable, "-c", COMPETITOR], env=env, preexec_fn=lambda: os.nice(nice))
    time.sleep(2.0)  # torch loaded and multiplying before the measurement starts
    return job


def measure_cell(spec: dict[str, Any], policy: dict[str, str], neighbour: str, timeout: float) -> list[float]:
    """One child process's step times under ``policy``, with ``neighbour`` running beside it."""
    job = _start_neighbour(neighbour)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.cases.contention", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_env(policy),
            cwd=KIT_ROOT,
        )
    finally:
        if job is not None:
            job.kill()
            job.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"contention worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_grid(spec: dict[str, Any], rounds: int, timeout: float = 600) -> dict[tuple[str, str], list[float]]:
    """Step times of every (policy, neighbour) cell for ``spec``'s workload, the cells alternated round by round."""
    grid: dict[tuple[str, str], list[float]] = {}
    for round_ in range(rounds):
        for name, policy in policies().items():
            for neighbour in NEIGHBOURS:
                log(f"contention: {spec['workload']}, {name}, {neighbour}, round {round_ + 1}/{rounds}")
                grid.setdefault((name, neighbour), []).extend(measure_cell(spec, policy, neighbour, timeout))
    return grid


def grid_entries(workload: str, grid: dict[tuple[str, str], list[float]]) -> list[dict[str, Any]]:
    """The entries: each policy alone against torch's default alone; each policy beside a job against alone."""
    out = []
    today = grid[("torch default", "alone")]
    for name in policies():
        alone = grid[(name, "alone")]
        if name != "torch default":
            note = "alone on the machine: what the policy costs when nothing competes"
            out.append(
                entry(
                    f"{workload} alone: {name}", "contention", "torch default", name, "s", False, (today, alone), note
                )
            )
        for neighbour in NEIGHBOURS[1:]:
            beside = grid[(name, neighbour)]
            out.append(
                entry(
                    f"{workload}, {name}: beside a {neighbour} job",
                    "contention",
                    "alone",
                    f"beside ({neighbour})",
                    "s",
                    False,
                    (alone, beside),
                    "speedup < 1 is the slowdown; worst_ratio: the slowest step beside over the median alone",
                    median_ratio=round(statistics.median(beside) / statistics.median(today), 3),
                    worst_ratio=round(max(beside) / statistics.median(today), 3),
                )
            )
    return out


def bench_contention(sizes: Any, results: list[dict[str, Any]]) -> None:
    """Section 6: both workloads, every policy, alone and beside a same-priority and a nice-15 job."""
    base = dict(vocab=4000, d_model=192, batch=16, input_tokens=sizes.contention_input_tokens, target_tokens=64)
    for workload in WORKLOADS:
        spec = base | dict(workload=workload, steps=sizes.contention_steps, warmup=1, new_tokens=32)
        results.extend(grid_entries(workload, measure_grid(spec, sizes.contention_rounds)))


if __name__ == "__main__":
    print(json.dumps(worker(json.loads(sys.argv[1]))))
