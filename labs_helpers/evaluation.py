"""Evaluate summarizers on DialogSum's test split: one summary per unique dialogue, multi-reference
ROUGE with per-example scores and bootstrap confidence intervals, tables, a bar chart, speed."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, Sequence

from .errors import LabsError
from .generation import generate
from .prompts import format_prompt
from .rouge import ROUGE_TYPES, _per_example, rouge_ci

# Lab 2's ROUGE-1 on flan-t5-base, as printed in the course notebook (Generative AI with LLMs,
# DeepLearning.AI / AWS, Week 2 lab "Fine-tune a generative AI model for dialogue summarization").
# Its full and PEFT models are the course's downloaded checkpoints, scored on 10 test rows.
COURSE_REFERENCE_ROUGE1 = {"original": 0.2334, "full fine-tune": 0.4216, "PEFT (LoRA)": 0.4081}


def eval_dialogues(test_split, n: int):
    """The first ``n`` unique test dialogues, each with its list of human references."""
    from .data import group_references

    if n < 1:
        raise LabsError(f"n={n}: evaluate at least one dialogue (LABS_N_EVAL).")
    grouped = group_references(test_split)
    return grouped.select(range(min(n, len(grouped))))


def summarize(model, tokenizer, dialogues: Sequence[str], batch_size: int = 16, max_new_tokens: int = 50,
              progress: bool = False, **generate_kwargs) -> list[str]:
    """One summary per dialogue with the fine-tuning prompt, greedy unless told otherwise."""
    prompts = [format_prompt("finetune", d) for d in dialogues]
    return generate(model, tokenizer, prompts, batch_size=batch_size, max_new_tokens=max_new_tokens,
                    progress=progress, desc="summarizing", **generate_kwargs)


@dataclasses.dataclass
class Evaluation:
    """Per-example scores (one row per dialogue) and a table: one row per model, median and 95% CI."""

    examples: Any  # pandas DataFrame
    table: Any  # pandas DataFrame

    def improvement(self, model: str, baseline: str) -> dict[str, float]:
        """Absolute ROUGE gain of ``model`` over ``baseline`` (difference of the bootstrap medians)."""
        for name in (model, baseline):
            if name not in self.table.index:
                raise LabsError(f"No model named {name!r} in this evaluation: use one of {', '.join(self.table.index)}.")
        return {k: round(float(self.table.loc[model, k] - self.table.loc[baseline, k]), 4) for k in ROUGE_TYPES}


def compare(predictions: Mapping[str, Sequence[str]], references: Sequence[Sequence[str]],
            ids: Sequence[str] | None = None, seed: int = 42) -> Evaluation:
    """Score each model's predictions against the references (best of several counts) and tabulate."""
    import pandas as pd

    if not predictions:
        raise LabsError("No predictions to compare: pass {model name: list of summaries}.")
    examples = pd.DataFrame({"id": list(ids) if ids is not None else list(range(len(references))),
                             "references": [list(r) for r in references]})
    rows = {}
    for name, texts in predictions.items():
        if len(texts) != len(references):
            raise LabsError(f"{name!r}: {len(texts)} summaries for {len(references)} dialogues. "
                            "Give one summary per dialogue, in the order of the references.")
        scores = _per_example(list(texts), [list(r) for r in references], True, ROUGE_TYPES)
        examples[f"{name}: summary"] = list(texts)
        for key in ROUGE_TYPES:
            examples[f"{name}: {key}"] = [float(s[key].fmeasure) for s in scores]
        intervals = rouge_ci(scores=scores, seed=seed)
        row: dict[str, float] = {}
        for key, (low, mid, high) in intervals.items():
            row[key] = round(mid, 4)
        for key, (low, mid, high) in intervals.items():
            row[f"{key} low"], row[f"{key} high"] = round(low, 4), round(high, 4)
        row["dialogues"] = len(texts)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return Evaluation(examples=examples, table=table)


def plot_rouge(table, title: str = "ROUGE on unique test dialogues (95% bootstrap CI)"):
    """Grouped bars: one group per ROUGE type, one bar per model, with CI whiskers; returns the axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in ROUGE_TYPES if k in table.columns]
    x = np.arange(len(keys))
    width = 0.8 / len(table)
    _, ax = plt.subplots(figsize=(7, 3.5))
    for i, (name, row) in enumerate(table.iterrows()):
        mids = np.array([row[k] for k in keys])
        errors = np.array([[row[k] - row[f"{k} low"] for k in keys], [row[f"{k} high"] - row[k] for k in keys]])
        ax.bar(x + (i - (len(table) - 1) / 2) * width, mids, width, yerr=errors, capsize=3, label=str(name))
    ax.set_xticks(x, keys)
    ax.set_ylabel("F-measure")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    return ax


def generation_speed(model, tokenizer, dialogues: Sequence[str], batch_size: int = 16,
                     max_new_tokens: int = 50, **generate_kwargs) -> dict[str, float]:
    """Wall-clock seconds to summarize ``dialogues`` and the resulting summaries per second."""
    start = time.perf_counter()
    summarize(model, tokenizer, dialogues, batch_size=batch_size, max_new_tokens=max_new_tokens, **generate_kwargs)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "summaries_per_second": round(len(dialogues) / seconds, 3)}
