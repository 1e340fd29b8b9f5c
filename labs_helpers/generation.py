"""Batched generation: length-sorted batches, attention masks, outputs back in input order."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Sequence

from .device import autocast as autocast_context
from .device import generation_precision, inference_model
from .errors import LabsError

if TYPE_CHECKING:
    from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase


class TruncatedPromptWarning(UserWarning):
    """Some prompts were longer than the input limit and were cut."""


class LongOutputWarning(UserWarning):
    """``max_new_tokens`` was more than the model can use and was cut to its limit."""


def check_texts(texts: Sequence[str], what: str = "prompts") -> list[str]:
    """``texts`` as a list; one clear LabsError for one text (read a character at a time) or a non-text."""
    if isinstance(texts, (str, bytes)):
        raise LabsError(
            f"{what} is one text, not a list of texts: pass [text] (one text would be read one character at a time)."
        )
    texts = list(texts)
    wrong = [t for t in texts if not isinstance(t, str)]
    if wrong:
        raise LabsError(f"{what} must be a list of texts, but one is a {type(wrong[0]).__name__}: pass strings only.")
    return texts


def check_loaded(model, tokenizer) -> None:
    """One clear LabsError when the model or the tokenizer is None (a cell that loads it was skipped?)."""
    if model is None or tokenizer is None:
        which = "model" if model is None else "tokenizer"
        loader = "AutoModelForSeq2SeqLM" if model is None else "AutoTokenizer"
        raise LabsError(f"The {which} is None: load it first ({loader}.from_pretrained(model_name)) and pass it.")


def output_limit(model, tokenizer) -> int | None:
    """The longest output ``model`` can use: its position table, else its tokenizer's length (512 for T5), or None."""
    config = getattr(model, "config", None)
    sizes = [getattr(config, name, None) for name in ("n_positions", "max_position_embeddings")]
    sizes.append(getattr(tokenizer, "model_max_length", None))
    usable = [n for n in sizes if isinstance(n, int) and 0 < n < 1_000_000]  # tokenizers say 1e30 for "no limit"
    return min(usable, default=None)


def fit_new_tokens(model, tokenizer, max_new_tokens: int) -> int:
    """``max_new_tokens``, or the model's limit with a ``LongOutputWarning`` when it asks for more."""
    limit = output_limit(model, tokenizer)
    if limit is not None and max_new_tokens > limit:
        warnings.warn(
            f"max_new_tokens={max_new_tokens} is cut to {limit}, the longest output this model can use; "
            "lower max_new_tokens (LABS_MAX_NEW_TOKENS) to at most that.",
            LongOutputWarning,
            stacklevel=3,
        )
        return limit
    return max_new_tokens


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
    # fp32 (the model as it is), bf16-autocast or bf16-weights (a bf16 copy for this call, the model unchanged);
    # None: autocast decides (off: fp32, bfloat16: device.BF16_GENERATION).
    precision: str | None = None,
    **generate_kwargs,
) -> list[str]:
    """Generate one text per prompt, in batches of similar length, in ``precision``; returns them in input order."""
    import torch
    from tqdm.auto import tqdm

    prompts = check_texts(prompts)
    if batch_size < 1:
        raise LabsError(f"batch_size={batch_size}: use 1 or more.")
    precision = generation_precision(autocast, precision)
    if not prompts:
        return []
    check_loaded(model, tokenizer)
    max_new_tokens = fit_new_tokens(model, tokenizer, max_new_tokens)
    limit = max_input_tokens or tokenizer.model_max_length
    order = _longest_first(tokenizer, prompts, limit)
    options = _generate_options(generation_config, max_new_tokens, generate_kwargs)
    outputs: list[str | None] = [None] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        runner, mode = inference_model(model, precision)
        bar = tqdm(total=len(prompts), desc=desc, disable=not progress)
        with torch.inference_mode(), autocast_context(str(model.device), mode), bar:
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                encoded = tokenizer(
                    [prompts[i] for i in batch], return_tensors="pt", padding=True, truncation=True, max_length=limit
                ).to(model.device)
                generated = runner.generate(**encoded, **options)
                for i, text in zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True)):
                    outputs[i] = text.strip()
                bar.update(len(batch))
    finally:
        model.train(was_training)
    return outputs  # type: ignore[return-value]


def _longest_first(tokenizer: PreTrainedTokenizerBase, prompts: list[str], limit: int) -> list[int]:
    """The prompts' indices, longest first (similar lengths share a batch); warns about prompts over ``limit``."""
    # One token past the limit tells which prompts get cut, without the tokenizer's own warning.
    lengths = [len(ids) for ids in tokenizer(prompts, truncation=True, max_length=limit + 1).input_ids]
    _warn_if_cut(lengths, limit, tokenizer.truncation_side)
    # Longest first: little padding, and a batch too big for memory fails at once rather than at the end.
    return sorted(range(len(prompts)), key=lambda i: (-lengths[i], i))


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
            stacklevel=4,  # generate_batched's caller
        )
