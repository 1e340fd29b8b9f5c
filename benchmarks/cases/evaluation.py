"""Section 3: the lab's row-by-row evaluation of the test split against one generation per dialogue."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from benchmarks.measure import entry

if TYPE_CHECKING:
    from datasets import Dataset


def bench_evaluation(test_split: Dataset, gen: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """Section 3: the lab's row-by-row evaluation vs one generation per unique dialogue."""
    from labs_helpers import group_references
    from labs_helpers.metrics import rouge_scores

    unique = group_references(test_split)
    n_rows, n_unique = len(test_split), len(unique)
    # Predictions to score: the batched outputs, reused cyclically over the whole split (the
    # scoring time depends on text lengths only).
    outputs = gen["batched"]
    per_dialogue = {d: outputs[i % len(outputs)] for i, d in enumerate(unique["dialogue"])}

    start = time.perf_counter()
    row_scores = rouge_scores([per_dialogue[d] for d in test_split["dialogue"]], list(test_split["summary"]))
    rows_rouge_seconds = time.perf_counter() - start
    start = time.perf_counter()
    # The kit: 500 generations, each scored against the rows of its dialogue (the very numbers
    # the lab computes, since greedy decoding gives the same text for the same dialogue) ...
    same_scores = rouge_scores([per_dialogue[d] for d in test_split["dialogue"]], list(test_split["summary"]))
    kit_rouge_seconds = time.perf_counter() - start
    start = time.perf_counter()
    # ... or against all three references at once (best reference counts; a different metric).
    rouge_scores([per_dialogue[d] for d in unique["dialogue"]], list(unique["references"]))
    multi_seconds = time.perf_counter() - start

    # Round by round from section 1's alternated pairs, so the extrapolation keeps their interval.
    lab_seconds = [n_rows * s + rows_rouge_seconds for s in gen["seq_seconds_per_dialogue"]]
    kit_seconds = [n_unique * s + kit_rouge_seconds for s in gen["batch_seconds_per_dialogue"]]
    results.append(
        entry(
            "evaluation of the test split",
            "3 evaluation",
            f"lab: row by row, {n_rows} generations",
            f"kit: {n_unique} unique dialogues, batched",
            "s",
            False,
            (lab_seconds, kit_seconds),
            "EXTRAPOLATED: generations x the per-dialogue times measured in section 1, plus ROUGE "
            f"measured on all {n_rows} rows; the same ROUGE numbers (greedy output repeats per dialogue)",
            rows=n_rows,
            unique_dialogues=n_unique,
            rouge_rows_seconds=rows_rouge_seconds,
            rouge_three_references_seconds=multi_seconds,
            same_rouge=row_scores == same_scores,
        )
    )
