"""The contention case (benchmarks/cases/contention.py): its child process, its policies and its entries."""

from __future__ import annotations

import pytest

from benchmarks.cases import contention
from labs_helpers.threads import THREAD_ENV

TINY_SPEC = dict(vocab=300, d_model=64, batch=2, input_tokens=8, target_tokens=4, steps=2, warmup=1, new_tokens=3)


@pytest.mark.parametrize("workload", contention.WORKLOADS)
def test_a_cell_runs_in_its_own_process_under_its_policy(workload):
    seconds = contention.measure_cell(TINY_SPEC | {"workload": workload}, {"OMP_NUM_THREADS": "1"}, "alone", 300)
    assert len(seconds) == 2 and all(s > 0 for s in seconds)


def test_a_neighbour_runs_beside_the_cell_and_is_gone_after(monkeypatch):
    started = []
    real = contention._start_neighbour

    def spy(neighbour):
        job = real(neighbour)
        started.append(job)
        return job

    monkeypatch.setattr(contention, "_start_neighbour", spy)
    contention.measure_cell(TINY_SPEC | {"workload": "train step"}, {}, "nice 15", 300)
    assert started[0] is not None and started[0].poll() is not None  # it ran, and was stopped


def test_the_kits_default_is_measured_and_marked():
    measured = contention.policies()
    assert THREAD_ENV in measured.values()
    assert sum("kit default" in name for name in measured) == 1
    assert measured["torch default"] == {}


def test_entries_compare_beside_with_alone_and_each_policy_with_todays_default():
    cells = {}
    for i, name in enumerate(contention.policies()):
        cells[(name, "alone")] = [1.0 + 0.1 * i, 1.0 + 0.1 * i]
        cells[(name, "same priority")] = [2.0, 4.0]
        cells[(name, "nice 15")] = [1.1, 1.2]
    entries = {e["name"]: e for e in contention.grid_entries("train step", cells)}
    beside = entries["train step, torch default: beside a same priority job"]
    assert beside["speedup"] == pytest.approx(1.0 / 3.0, rel=0.01)  # median 3.0 against 1.0 alone
    assert beside["median_ratio"] == 3.0 and beside["worst_ratio"] == 4.0
    alone = [e for name, e in entries.items() if "alone:" in name]
    assert len(alone) == len(cells) // 3 - 1 and all(e["speedup"] < 1 for e in alone)  # each slower than 1.0
