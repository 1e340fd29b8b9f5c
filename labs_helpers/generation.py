"""Batched generation: length-sorted batches, attention masks, outputs back in input order."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Sequence

from .device import autocast as autocast_context

if TYPE_CHECKING:
    from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase


class TruncatedPromptWarning(UserWarning):
    """Some prompts were longer than the input limit and were cut."""


def generate_batched(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    batch_size: int = 16,
    max_new_tokens: int = 50,
    generation_config: GenerationConfig | None = None,
    max_input_tokens: int | None = None,
    progress: bool = True,
    desc: str = "generating",
    autocast: str = "off",
    **generate_kwargs,
) -> list[str]:
    """Generate one text per prompt, in batches of similar length, under ``autocast``; returns them in input order."""
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: use 1 or more.")
    prompts = list(prompts)
    if not prompts:
        return []
    limit = max_input_tokens or tokenizer.model_max_length
    # One token past the limit tells which prompts get cut, without the tokenizer's own warning.
    lengths = [len(ids) for ids in tokenizer(prompts, truncation=True, max_length=limit + 1).input_ids]
    _warn_if_cut(lengths, limit, tokenizer.truncation_side)
    # Longest first: similar lengths share a batch (little padding), and a batch too big for
    # memory fails at once rather than at the end.
    order = sorted(range(len(prompts)), key=lambda i: (-lengths[i], i))
    options = _generate_options(generation_config, max_new_tokens, generate_kwargs)
    outputs: list[str | None] = [None] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        bar = tqdm(total=len(prompts), desc=desc, disable=not progress)
        with torch.inference_mode(), autocast_context(str(model.device), autocast), bar:
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                encoded = tokenizer(
                    [prompts[i] for i in batch], return_tensors="pt", padding=True, truncation=True, max_length=limit
                ).to(model.device)
                generated = model.generate(**encoded, **options)
                for i, text in zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True)):
                    outputs[i] = text.strip()
                bar.update(len(batch))
    finally:
        model.train(was_training)
    return outputs  # type: ignore[return-value]


def _generate_options(config: GenerationConfig | None, max_new_tokens: int, kwargs: dict) -> dict:
    """``generate``'s arguments: a copy of ``config`` updated with the rest (transformers warns when given both)."""
    import copy

    if config is None:
        return dict(max_new_tokens=max_new_tokens, **kwargs)
    config = copy.deepcopy(config)
    model_kwargs = config.update(max_new_tokens=max_new_tokens, **kwargs)  # returns what is not a generation option
    return dict(generation_config=config, **model_kwargs)


def _warn_if_cut(lengths: Sequence[int], limit: int, side: str) -> None:
    """One ``TruncatedPromptWarning`` that says how many prompts are over ``limit`` tokens, if any."""
    too_long = sum(n > limit for n in lengths)
    if too_long:
        warnings.warn(
            f"{too_long} of {len(lengths)} prompts are longer than {limit} tokens and are cut to {limit} "
            f"at the {'end' if side == 'right' else 'start'}. Shorten them "
            "(labs_helpers.prompting.make_prompt(..., budget=...)) "
            "or raise max_input_tokens if the model handles longer inputs.",
            TruncatedPromptWarning,
            stacklevel=3,
        )
