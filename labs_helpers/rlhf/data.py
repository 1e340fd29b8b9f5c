"""Lab 3's data: train dialogues of a middling length, the lab's prompt, token-id queries, an 80/20 split.

The lab keeps train dialogues of more than 200 and at most 1,000 characters (12,460 -> 10,022 on
DialogSum), wraps each in its own prompt, tokenizes it, and keeps the decoded ids as the text
``query`` (so the newlines are gone and it ends with ``</s>``). PPO's queries are the token ids
themselves: re-tokenizing the decoded text would add a second ``</s>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..course import MAX_INPUT_TOKENS
from ..errors import LabsError
from ..prompting import TEMPLATES, fit_dialogue, token_lengths

LAB_PROMPT = TEMPLATES["lab3"]
MIN_CHARS, MAX_CHARS = 200, 1000  # the lab's input_min_text_length / input_max_text_length
TEST_SIZE = 0.2


def lab_prompt(dialogue: str) -> str:
    """Lab 3's prompt around one dialogue (different from Lab 2's: leading and trailing newlines)."""
    return LAB_PROMPT.format(dialogue=dialogue)


def keep_dialogue(dialogue: str, min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS) -> bool:
    """The lab's length filter: more than ``min_chars`` and at most ``max_chars`` characters."""
    return min_chars < len(dialogue) <= max_chars


def build_lab_dataset(
    train_split: Any,
    tokenizer: Any,
    seed: int,
    min_chars: int = MIN_CHARS,
    max_chars: int = MAX_CHARS,
    test_size: float = TEST_SIZE,
) -> Any:
    """The lab's ``DatasetDict``: filtered train dialogues and summaries, ``input_ids``, ``query``; split unshuffled."""
    if not 0 <= min_chars < max_chars:
        raise LabsError(
            f"min_chars={min_chars}, max_chars={max_chars}: use 0 <= min_chars < max_chars (the lab: 200, 1000)."
        )
    kept = train_split.filter(lambda row: keep_dialogue(row["dialogue"], min_chars, max_chars))
    if len(kept) < 2:
        raise LabsError(
            f"Only {len(kept)} train dialogues have {min_chars} < characters <= {max_chars}: widen the "
            "range or use a larger dataset (LABS_DATASET)."
        )

    def tokenize(batch: dict) -> dict:
        prompts = [lab_prompt(d) for d in batch["dialogue"]]
        ids = tokenizer(prompts, truncation=True, max_length=MAX_INPUT_TOKENS)["input_ids"]
        return {"input_ids": ids, "query": tokenizer.batch_decode(ids)}

    drop = [c for c in kept.column_names if c not in ("id", "dialogue", "summary")]
    tokenized = kept.map(tokenize, batched=True, remove_columns=drop)
    return tokenized.train_test_split(test_size=test_size, shuffle=False, seed=seed)


def query_tensors(split: Any, limit: int | None = None) -> list[Any]:
    """The split's ``input_ids`` as 1-D id tensors (PPO's queries), the first ``limit`` of them."""
    import torch

    rows = split if limit is None else split.select(range(min(limit, len(split))))
    return [torch.tensor(ids, dtype=torch.long) for ids in rows["input_ids"]]


def eval_queries(tokenizer: Any, dialogues: Sequence[str], max_tokens: int = MAX_INPUT_TOKENS) -> list[Any]:
    """Lab 3's prompt around each dialogue as id tensors, a long dialogue cut so that its ``Summary:`` cue stays."""
    import torch

    return [torch.tensor(tokenizer(fit_dialogue(tokenizer, "lab3", d, max_tokens)).input_ids) for d in dialogues]


def summary_token_budget(tokenizer: Any, summaries: Sequence[str], quantile: float = 0.95, margin: int = 8) -> int:
    """New tokens that cover ``quantile`` of the human ``summaries`` (plus ``margin``): the kit's cap on length."""
    import numpy as np

    if not summaries:
        raise LabsError("No summaries to measure: pass the human summaries of the split.")
    if not 0 < quantile <= 1:
        raise LabsError(f"quantile={quantile}: use a share in (0, 1], e.g. 0.95.")
    lengths = token_lengths(tokenizer, summaries)
    return int(np.ceil(np.quantile(lengths, quantile))) + margin
