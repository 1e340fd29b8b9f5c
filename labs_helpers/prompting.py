"""Prompt templates as named data, and zero-, one- and few-shot prompts built from them.

``make_prompt`` builds the course's prompts from rows of a split, counts their tokens and
warns when a prompt is longer than the model's context window; with ``budget`` it keeps the
leading shots that fit (``fit_shots``). ``fit_dialogue`` shortens a long dialogue inside its
template, so that the instruction and the cue survive. ``lab_rows`` maps the lab's row numbers onto a
split too small to have them.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Sequence

from .errors import LabsError

# The course labs' templates, kept word for word (including their blank lines).
TEMPLATES: dict[str, str] = {
    # Lab 1, zero-shot "instruction" prompt.
    "instruction": "\nSummarize the following conversation.\n\n{dialogue}\n\nSummary:\n    ",
    # Lab 1, FLAN-T5's own template for dialogue summarization.
    "flan": "\nDialogue:\n\n{dialogue}\n\nWhat was going on?\n",
    # Lab 2, the prompt the fine-tuning notebooks train and evaluate with.
    "finetune": "Summarize the following conversation.\n\n{dialogue}\n\nSummary: ",
    # Lab 3, the prompt PPO's queries are made from (rlhf.data.LAB_PROMPT).
    "lab3": "\nSummarize the following conversation.\n\n{dialogue}\n\nSummary:\n",
}

# After each solved example: its summary, then the lab's stop sequence of three newlines.
SHOT_END = "\n\n\n"


class PromptTooLongWarning(UserWarning):
    """A prompt has more tokens than the model's context window."""


@dataclasses.dataclass(frozen=True)
class Prompt:
    """A prompt, its token count, and what it was built from."""

    text: str = dataclasses.field(repr=False)
    n_tokens: int
    limit: int
    shots: tuple[int, ...]
    template: str

    @property
    def fits(self) -> bool:
        """True when the prompt is within ``limit`` tokens."""
        return self.n_tokens <= self.limit


def _check_template(template: str) -> None:
    if template not in TEMPLATES:
        raise LabsError(f"Unknown template {template!r}: use one of {', '.join(repr(t) for t in TEMPLATES)}.")


def format_prompt(template: str, dialogue: str) -> str:
    """The named template with ``dialogue`` filled in."""
    _check_template(template)
    if not isinstance(dialogue, str):
        raise LabsError(
            f"format_prompt fills in one dialogue (a text), not a {type(dialogue).__name__}: for several, "
            "make one prompt each, [format_prompt(template, d) for d in dialogues]."
        )
    return TEMPLATES[template].format(dialogue=dialogue)


def build_prompt(template: str, shots: Sequence[tuple[str, str]], dialogue: str) -> str:
    """Prompt text: each (dialogue, summary) shot solved in ``template``, then ``dialogue`` to summarize."""
    _check_template(template)
    solved = "".join(format_prompt(template, d) + s + SHOT_END for d, s in shots)
    return solved + format_prompt(template, dialogue)


def token_lengths(tokenizer, texts: Sequence[str]) -> list[int]:
    """How many tokens each text becomes (with the end-of-sequence token, without truncation)."""
    # verbose=False: transformers' "longer than the specified maximum" warning belongs to a call that
    # feeds the model a long input (notebook 02 shows one), not to the kit counting tokens.
    return [len(ids) for ids in tokenizer(list(texts), truncation=False, verbose=False).input_ids]


def fit_dialogue(tokenizer, template: str, dialogue: str, max_tokens: int) -> str:
    """The template around as much of the dialogue's start as fits in ``max_tokens``: instruction and cue kept."""
    text = format_prompt(template, dialogue)
    if token_lengths(tokenizer, [text])[0] <= max_tokens:
        return text
    room = max_tokens - token_lengths(tokenizer, [format_prompt(template, "")])[0]
    if room < 1:
        raise LabsError(f"The {template!r} template alone has more than {max_tokens} tokens: raise max_tokens.")
    offsets = tokenizer(dialogue, add_special_tokens=False, return_offsets_mapping=True, verbose=False).offset_mapping
    ends = [end for _, end in offsets]
    # Cut the dialogue's text after token ``room``; re-tokenizing at a cut can add a token, so step back until it fits.
    while room > 0:
        text = format_prompt(template, dialogue[: ends[room - 1]].rstrip())
        if token_lengths(tokenizer, [text])[0] <= max_tokens:
            return text
        room -= 1
    return format_prompt(template, "")


def prompts_over(tokenizer, template: str, dialogues: Sequence[str], max_tokens: int) -> int:
    """How many of ``dialogues``, in ``template``, have more than ``max_tokens`` tokens."""
    prompts = [format_prompt(template, d) for d in dialogues]
    return sum(n > max_tokens for n in token_lengths(tokenizer, prompts))


def _row(split: Any, index: int, role: str) -> dict:
    n = len(split)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise LabsError(
            f"{role} index {index!r} is not a row of this split ({n} rows: use 0 to {n - 1}). "
            "On a split smaller than the lab's, map the lab's rows with labs_helpers.prompting.lab_rows."
        )
    row = split[index]
    if not str(row["dialogue"]).strip():
        raise LabsError(f"{role} row {index} has an empty dialogue: pick a row that has one.")
    return row


def fit_shots(shot_lengths: Sequence[int], target_length: int, budget: int) -> list[int]:
    """Indices of the leading shots that fit within ``budget`` tokens together with the target (exercise 02.2)."""
    kept, total = [], target_length
    for index, length in enumerate(shot_lengths):
        total += length
        if total > budget:  # a total exactly at the budget fits; the first shot over it ends the prompt
            break
        kept.append(index)
    return kept


def make_prompt(
    tokenizer,
    split: Any,
    shots: Sequence[int],
    target: int | str,
    template: str = "flan",
    budget: int | None = None,
) -> Prompt:
    """A prompt with ``shots`` (rows of ``split``) solved, then ``target`` (a row or a dialogue) to summarize.

    Without ``budget`` every shot is used and a ``PromptTooLongWarning`` says when the prompt is
    longer than ``tokenizer.model_max_length``. With ``budget`` (tokens), shots are taken in the
    order given up to the first one that would push the prompt over the budget (``fit_shots``).
    """
    _check_template(template)
    if budget is not None and budget < 1:
        raise LabsError(f"budget={budget}: give the most tokens a prompt may have, e.g. 512, or leave it out.")
    dialogue, solved = _target_and_shots(split, list(shots), target)
    limit = budget if budget is not None else tokenizer.model_max_length

    def count(chosen: list[tuple[int, str, str]]) -> tuple[str, int]:
        text = build_prompt(template, [(d, s) for _, d, s in chosen], dialogue)
        return text, token_lengths(tokenizer, [text])[0]

    chosen = solved
    if budget is not None:
        # What each shot adds, measured on the real prompt: the sums telescope to exact prompt lengths.
        totals = [count(solved[:k])[1] for k in range(len(solved) + 1)]
        added = [b - a for a, b in zip(totals, totals[1:])]
        chosen = [solved[i] for i in fit_shots(added, totals[0], budget)]
    text, n_tokens = count(chosen)
    prompt = Prompt(text=text, n_tokens=n_tokens, limit=limit, shots=tuple(i for i, _, _ in chosen), template=template)
    if not prompt.fits:
        _warn_too_long(prompt, budget is not None)
    return prompt


def _target_and_shots(split: Any, shots: list[int], target: int | str) -> tuple[str, list[tuple[int, str, str]]]:
    """The target's dialogue and the (row, dialogue, summary) of each shot; no shot may be the target."""
    if isinstance(target, str):
        dialogue, target_name = target, "the target dialogue"
        if not dialogue.strip():
            raise LabsError("The target dialogue is empty: pass a row index or a dialogue with text.")
    else:
        dialogue, target_name = _row(split, target, "Target")["dialogue"], f"the target (row {target})"
    solved: list[tuple[int, str, str]] = []
    for index in shots:
        row = _row(split, index, "Shot")
        if row["dialogue"].strip() == dialogue.strip():
            raise LabsError(
                f"Shot row {index} is the same dialogue as {target_name}: the model would be shown the "
                "answer. Pick shots from other dialogues (in DialogSum's test split each dialogue fills "
                "three consecutive rows), or from the train split."
            )
        solved.append((index, row["dialogue"], row["summary"]))
    return dialogue, solved


def _warn_too_long(prompt: Prompt, budgeted: bool) -> None:
    """The ``PromptTooLongWarning`` for a prompt over its limit, with what to do about it."""
    source = "the budget" if budgeted else "tokenizer.model_max_length"
    fix = (
        "Use fewer or shorter shots, or pass budget= to keep only the shots that fit."
        if prompt.shots
        else "Even with no shots the dialogue alone is too long: the end of the dialogue will be lost."
    )
    warnings.warn(
        f"This prompt has {prompt.n_tokens} tokens, more than the {prompt.limit} the model takes ({source}). "
        f"Truncated to {prompt.limit} tokens it loses its end: the dialogue to summarize. {fix}",
        PromptTooLongWarning,
        stacklevel=3,
    )


def lab_rows(split: Any, indices: Sequence[int], lab_rows_total: int = 1500) -> dict[int, int]:
    """The lab's row numbers mapped onto ``split``: unchanged if they exist, else spread over distinct dialogues."""
    wanted = sorted(set(indices))
    if not wanted or wanted[-1] < len(split):
        return {i: i for i in indices}
    firsts: dict[str, int] = {}
    for row, dialogue in enumerate(split["dialogue"]):
        firsts.setdefault(dialogue, row)
    starts = list(firsts.values())
    if len(wanted) > len(starts):
        raise LabsError(
            f"The split has {len(starts)} dialogues, fewer than the {len(wanted)} rows asked for: use a larger split."
        )
    step = (len(starts) - 1) / max(len(wanted) - 1, 1)
    mapping = {i: starts[round(k * step)] for k, i in enumerate(wanted)}
    print(
        f"Note: this split has {len(split)} rows, not the {lab_rows_total} of DialogSum's test split, so the lab's "
        f"rows {', '.join(map(str, wanted))} do not exist here.\n"
        f"      Using rows {', '.join(str(mapping[i]) for i in wanted)} instead (distinct dialogues, same order). "
        "With the full DialogSum the lab's own rows are used."
    )
    return {i: mapping[i] for i in indices}
