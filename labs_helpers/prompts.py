"""Prompt templates as named data, and prompts built from them."""

from __future__ import annotations

# The course labs' templates, kept word for word (including their blank lines).
TEMPLATES: dict[str, str] = {
    # Lab 1, zero-shot "instruction" prompt.
    "instruction": "\nSummarize the following conversation.\n\n{dialogue}\n\nSummary:\n    ",
    # Lab 1, FLAN-T5's own template for dialogue summarization.
    "flan": "\nDialogue:\n\n{dialogue}\n\nWhat was going on?\n",
    # Lab 2, the prompt the fine-tuning notebooks train and evaluate with.
    "finetune": "Summarize the following conversation.\n\n{dialogue}\n\nSummary: ",
}


def format_prompt(template: str, dialogue: str) -> str:
    """The named template with ``dialogue`` filled in."""
    if template not in TEMPLATES:
        raise KeyError(f"Unknown template {template!r}: use one of {', '.join(TEMPLATES)}.")
    return TEMPLATES[template].format(dialogue=dialogue)
