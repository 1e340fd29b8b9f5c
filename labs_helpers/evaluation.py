"""Evaluate summarizers on DialogSum's test split: one summary per unique dialogue, multi-reference
ROUGE with per-example scores and bootstrap confidence intervals, tables, speed."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, Sequence

from . import course
from .baselines import distinct_count
from .errors import LabsError
from .generation import check_loaded, check_texts, generate_batched
from .metrics import ROUGE_TYPES, per_example_scores, rouge_ci, rouge_scores
from .prompting import fit_dialogue

# The name of the baseline row: one sentence, the same for every dialogue (baselines.best_constant_summary).
CONSTANT = "constant sentence"


def eval_dialogues(test_split, n: int):
    """The first ``n`` unique test dialogues, each with its list of human references."""
    from .data import group_references

    if not hasattr(test_split, "column_names"):  # a pandas DataFrame iterates over its column names
        raise LabsError(
            f"eval_dialogues takes a datasets split such as dataset['test'], not a {type(test_split).__name__}: "
            "pass the split itself, or datasets.Dataset.from_pandas(frame)."
        )
    if n < 1:
        raise LabsError(f"n={n}: evaluate at least one dialogue (LABS_N_EVAL).")
    grouped = group_references(test_split)
    return grouped.select(range(min(n, len(grouped))))


def summarize_dialogues(
    model,
    tokenizer,
    dialogues: Sequence[str],
    batch_size: int = 16,
    max_new_tokens: int = 50,
    progress: bool = False,
    max_input_tokens: int = course.MAX_INPUT_TOKENS,
    autocast: str = "off",
    precision: str | None = None,
    **generate_kwargs,
) -> list[str]:
    """One summary per dialogue with the fine-tuning prompt, greedy unless told otherwise, in ``precision``.

    A dialogue too long for ``max_input_tokens`` loses its end inside the prompt (``prompting.fit_dialogue``),
    so the instruction and the ``Summary:`` cue always reach the model.
    """
    dialogues = check_texts(dialogues, "dialogues")
    if dialogues:
        check_loaded(model, tokenizer)
    prompts = [fit_dialogue(tokenizer, "finetune", d, max_input_tokens) for d in dialogues]
    return generate_batched(
        model,
        tokenizer,
        prompts,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        progress=progress,
        desc="summarizing",
        autocast=autocast,
        precision=precision,  # None: autocast decides (generation.generate_batched)
        **generate_kwargs,
    )


@dataclasses.dataclass
class Evaluation:
    """Per-example scores (one row per dialogue) and a table: one row per model, median and 95% CI."""

    examples: Any  # pandas DataFrame
    table: Any  # pandas DataFrame

    def improvement(self, model: str, baseline: str) -> dict[str, float]:
        """Absolute ROUGE gain of ``model`` over ``baseline`` (difference of the bootstrap medians)."""
        for name in (model, baseline):
            if name not in self.table.index:
                raise LabsError(
                    f"No model named {name!r} in this evaluation: use one of {', '.join(self.table.index)}."
                )
        return {k: round(float(self.table.loc[model, k] - self.table.loc[baseline, k]), 4) for k in ROUGE_TYPES}


def compare(
    predictions: Mapping[str, Sequence[str]],
    references: Sequence[Sequence[str]],
    ids: Sequence[str] | None = None,
    seed: int = 42,
    constant: str | None = None,
) -> Evaluation:
    """Score each model's predictions against the references (best of several counts) and tabulate.

    The table counts the ``distinct`` summaries of each model; with ``constant`` (a sentence) it adds
    the baseline row ``CONSTANT`` that gives that same sentence for every dialogue.
    """
    import pandas as pd

    if not predictions:
        raise LabsError("No predictions to compare: pass {model name: list of summaries}.")
    if constant is not None:
        predictions = {**predictions, CONSTANT: [constant] * len(references)}
    examples = pd.DataFrame(
        {
            "id": list(ids) if ids is not None else list(range(len(references))),
            "references": [list(r) for r in references],
        }
    )
    rows = {}
    for name, texts in predictions.items():
        if len(texts) != len(references):
            raise LabsError(
                f"{name!r}: {len(texts)} summaries for {len(references)} dialogues. "
                "Give one summary per dialogue, in the order of the references."
            )
        scores = per_example_scores(list(texts), [list(r) for r in references])
        examples[f"{name}: summary"] = list(texts)
        for key in ROUGE_TYPES:
            examples[f"{name}: {key}"] = [float(s[key].fmeasure) for s in scores]
        intervals = rouge_ci(scores=scores, seed=seed)
        row: dict[str, float] = {key: round(mid, 4) for key, (_, mid, _) in intervals.items()}
        for key, (low, _, high) in intervals.items():
            row[f"{key} low"], row[f"{key} high"] = round(low, 4), round(high, 4)
        row["distinct"], row["dialogues"] = distinct_count(texts), len(texts)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return Evaluation(examples=examples, table=table)


def constant_row(constant: str, references: Sequence[Sequence[str]], seed: int = 42) -> dict[str, float]:
    """ROUGE (``metrics.rouge_scores``) and distinct count of the baseline that says ``constant`` to every dialogue."""
    scores = rouge_scores([constant] * len(references), [list(r) for r in references], seed=seed)
    return {**{k: round(v, 4) for k, v in scores.items()}, "distinct": 1}


def side_by_side(evaluation: Evaluation, dialogues: Sequence[str], models: Sequence[str], n: int = 3, width: int = 240):
    """The first ``n`` dialogues (cut to ``width`` characters), their first human summary and each model's summary."""
    import pandas as pd

    table = pd.DataFrame(
        {
            "dialogue": [d[:width].replace("\n", " ") + ("..." if len(d) > width else "") for d in dialogues[:n]],
            "human summary": [refs[0] for refs in evaluation.examples["references"][:n]],
        }
    )
    for name in models:
        table[name] = list(evaluation.examples[f"{name}: summary"][:n])
    return table


def generation_speed(
    model, tokenizer, dialogues: Sequence[str], batch_size: int = 16, max_new_tokens: int = 50, **generate_kwargs
) -> dict[str, float]:
    """Wall-clock seconds to summarize ``dialogues`` and the resulting summaries per second."""
    start = time.perf_counter()
    summarize_dialogues(
        model, tokenizer, dialogues, batch_size=batch_size, max_new_tokens=max_new_tokens, **generate_kwargs
    )
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "summaries_per_second": round(len(dialogues) / seconds, 3)}
