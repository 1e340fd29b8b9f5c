"""Exercises of notebook 04 (full fine-tuning): label masking, the tokenize function."""

from __future__ import annotations

from typing import Callable

from .feedback import Feedback, caller, failer

HINTS = {
    "04.1": "Return a copy where every position equal to the pad id becomes -100; keep end-of-sequence tokens.",
    "04.2": "Prompt with the 'finetune' template, tokenize with truncation=True and max_length, no padding; "
    "labels come from tokenizer(text_target=summaries, ...).",
}
fail = failer(HINTS)
call = caller(fail)


@call.guard("04.1")
def check_label_masking(function: Callable, seed: int = 0) -> Feedback:
    """Exercise 04.1: label padding replaced by -100 so the loss ignores it."""
    import torch

    labels = torch.tensor([[37, 8, 1, 0, 0], [5, 1, 0, 0, 0], [9, 9, 9, 9, 1]])
    if seed:  # the grader's own batch, drawn afresh for each run: tokens, then EOS (1), then padding (0)
        generator = torch.Generator().manual_seed(seed)
        labels = torch.randint(2, 50, (4, 7), generator=generator)
        for row, end in enumerate(torch.randint(0, 7, (4,), generator=generator).tolist()):
            labels[row, end], labels[row, end + 1 :] = 1, 0
    return _masked(function, labels)


def _masked(function: Callable, labels) -> Feedback:
    """Exercise 04.1 on one batch of labels."""
    import torch

    ex = "04.1"
    original = labels.clone()
    got, problem = call(ex, function, labels, 0)
    if problem is not None:
        return problem
    got = torch.as_tensor(got)
    want = original.masked_fill(original == 0, -100)
    if not torch.equal(labels, original):
        return fail(ex, "you changed the input tensor in place; return a new one (the batch may be reused).")
    if torch.equal(got, want):
        return Feedback(ex, True, "Padding is masked and end-of-sequence tokens stay in the loss.")
    if (got[original == 1] == -100).any():
        return fail(ex, "you masked the end-of-sequence token (id 1): the model must learn when to stop.")
    if (got[original == 0] != -100).any():
        return fail(ex, "some padding positions are still in the loss.")
    return fail(ex, "you masked real tokens: only positions equal to the pad id become -100.")


@call.guard("04.2")
def check_tokenize(function: Callable, tokenizer, max_length: int = 512) -> Feedback:
    """Exercise 04.2: the lab's tokenize function without padding to 512."""
    from ..prompting import format_prompt

    ex = "04.2"
    batch = {
        "dialogue": ["#Person1#: Hi.\n#Person2#: Hello there.", "#Person1#: Bye " * 400],
        "summary": ["They greet each other.", "#Person1# says goodbye many times."],
    }
    got, problem = call(ex, function, batch, tokenizer)
    if problem is not None:
        return problem
    for key in ("input_ids", "labels"):
        if key not in got:
            return fail(ex, f"the result has no '{key}'.")
    prompts = [format_prompt("finetune", d) for d in batch["dialogue"]]
    want = tokenizer(prompts, truncation=True, max_length=max_length)
    want_labels = tokenizer(text_target=batch["summary"], truncation=True, max_length=max_length).input_ids
    got_ids = [list(ids) for ids in got["input_ids"]]
    if any(tokenizer.pad_token_id in ids[:-1] for ids in got_ids):
        return fail(ex, "the inputs are padded: leave padding to the data collator (dynamic padding).")
    if len(got_ids[1]) > max_length:
        return fail(ex, f"the long dialogue gives {len(got_ids[1])} tokens: truncate to max_length={max_length}.")
    if got_ids != [list(ids) for ids in want.input_ids]:
        return fail(
            ex, "the input ids differ from the 'finetune' template's prompt: use format_prompt('finetune', ...)."
        )
    if [list(ids) for ids in got["labels"]] != [list(ids) for ids in want_labels]:
        return fail(ex, "the labels should be the tokenized summaries (text_target=...).")
    return Feedback(ex, True, "Same ids as the lab's prompt, truncated, and unpadded.")
