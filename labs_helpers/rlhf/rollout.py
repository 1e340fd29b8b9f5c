"""Rollouts for a seq2seq policy: right-padded queries, sampled responses, and their per-token scores.

A *response* here is what the decoder produced after its start token: ``generate``'s output
without its first column. T5's decoder start id equals its pad id, so response tokens are never
told apart by the pad id; ``ppo_math.response_mask`` masks them by position (up to the first EOS).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from ..errors import LabsError
from .ppo_math import response_mask, token_logprobs


@dataclasses.dataclass
class Rollout:
    """One batch of queries and sampled responses (ids, masks and texts), ready for ``PPOTrainer.step``."""

    query_ids: torch.Tensor  # [batch, query_length], right-padded
    query_mask: torch.Tensor  # [batch, query_length], 1 on real tokens
    response_ids: torch.Tensor  # [batch, response_length], without the decoder start token
    response_mask: torch.Tensor  # [batch, response_length], 1.0 up to and including the first EOS
    texts: list[str] = dataclasses.field(default_factory=list)  # decoded responses (special tokens skipped)

    def __len__(self) -> int:
        return int(self.query_ids.shape[0])


@contextlib.contextmanager
def dropout_off(*modules: torch.nn.Module) -> Iterator[None]:
    """``eval()`` mode inside the block (no dropout; gradients still flow), the previous modes after it."""
    before = [m.training for m in modules]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for module, mode in zip(modules, before):
            module.train(mode)


def pad_right(sequences: Sequence[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of 1-D id tensors padded on the right to the longest."""
    if not sequences:
        raise LabsError("No sequences to pad: pass at least one query.")
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def encode_queries(tokenizer: Any, texts: Sequence[str], max_length: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of ``texts``, padded on the RIGHT (left padding breaks T5's KL; trl #256)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    return pad_right([torch.tensor(ids) for ids in encoded["input_ids"]], tokenizer.pad_token_id)


def _special_ids(model: Any) -> tuple[int, int]:
    config = model.config
    eos, pad = config.eos_token_id, config.pad_token_id
    if eos is None or pad is None:
        raise LabsError(
            f"{type(model).__name__}'s config has eos_token_id={eos}, pad_token_id={pad}: set both (T5: eos 1, pad 0)."
        )
    return int(eos), int(pad)


def sample_responses(
    model: Any,
    query_ids: torch.Tensor,
    query_mask: torch.Tensor,
    max_new_tokens: int,
    min_new_tokens: int = 5,
    tokenizer: Any = None,
    top_k: int = 0,
) -> Rollout:
    """Sample one response per query (do_sample, top_k 0, top_p 1.0, as the lab's PPO), dropout off."""
    eos, pad = _special_ids(model)
    if not 0 <= min_new_tokens <= max_new_tokens:
        raise LabsError(
            f"min_new_tokens={min_new_tokens}, max_new_tokens={max_new_tokens}: use "
            "0 <= min_new_tokens <= max_new_tokens."
        )
    device = next(model.parameters()).device
    with dropout_off(model), torch.no_grad():
        output = model.generate(
            input_ids=query_ids.to(device),
            attention_mask=query_mask.to(device),
            do_sample=True,
            top_k=top_k,
            top_p=1.0,
            num_beams=1,
            temperature=1.0,
            # PPO scores each token with the policy's own probabilities, so it must sample from them:
            # no repetition guard from the model's generation_config (the pre-trained stand-in has one).
            no_repeat_ngram_size=0,
            min_new_tokens=min_new_tokens,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos,
            pad_token_id=pad,
        )
    responses = output[:, 1:].cpu()  # drop the decoder start token
    mask = response_mask(responses, eos)
    # generate pads finished rows after their EOS; masked positions are set to pad for a clean tensor
    responses = torch.where(mask.bool(), responses, torch.full_like(responses, pad))
    texts = tokenizer.batch_decode(responses, skip_special_tokens=True) if tokenizer is not None else []
    return Rollout(query_ids.cpu(), query_mask.cpu(), responses, mask, [t.strip() for t in texts])


def decoder_inputs(model: Any, response_ids: torch.Tensor) -> torch.Tensor:
    """The decoder's inputs for teacher forcing: its start token, then the response shifted right."""
    start = model.config.decoder_start_token_id
    if start is None:
        raise LabsError(f"{type(model).__name__}'s config has no decoder_start_token_id: set it (T5: 0).")
    first = torch.full_like(response_ids[:, :1], int(start))
    return torch.cat([first, response_ids[:, :-1]], dim=1)


def policy_forward(
    model: Any,
    value_head: torch.nn.Module | None,
    query_ids: torch.Tensor,
    query_mask: torch.Tensor,
    response_ids: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs of ``response_ids`` under ``model`` and (with a value head) per-token values; no dropout."""
    device = next(model.parameters()).device
    with dropout_off(model):
        output = model(
            input_ids=query_ids.to(device),
            attention_mask=query_mask.to(device),
            decoder_input_ids=decoder_inputs(model, response_ids).to(device),
            output_hidden_states=value_head is not None,
            use_cache=False,
            return_dict=True,
        )
    logprobs = token_logprobs(output.logits, response_ids.to(device))
    values = value_head(output.decoder_hidden_states[-1]) if value_head is not None else None
    return logprobs, values


def reference_logprobs(
    model: Any, query_ids: torch.Tensor, query_mask: torch.Tensor, response_ids: torch.Tensor
) -> torch.Tensor:
    """Per-token log-probs under the reference: the same peft model with its adapter disabled."""
    if not hasattr(model, "disable_adapter"):
        raise LabsError(
            f"{type(model).__name__} has no disable_adapter(): the reference needs a peft model; "
            "build the policy with labs_helpers.rlhf.build_policy."
        )
    with torch.no_grad(), model.disable_adapter():
        logprobs, _ = policy_forward(model, None, query_ids, query_mask, response_ids)
    return logprobs
