"""The model measured (flan-t5-base's shape, random weights) and how much work each mode does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labs_helpers.standin.architecture import FLAN_T5_LAYOUT, GENERATION_IDS

if TYPE_CHECKING:
    from transformers import T5ForConditionalGeneration

# google/flan-t5-base's sizes on FLAN-T5's layout (no download).
FLAN_T5_BASE: dict[str, Any] = (
    dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12)
    | FLAN_T5_LAYOUT
)
TINY: dict[str, Any] = dict(
    FLAN_T5_BASE, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4
)


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does (full run, --quick, --tiny)."""

    gen_dialogues: int = 48  # batched path: dialogues generated (3 batches: length sorting at work)
    long_dialogues: int = 32  # the long-output variant: dialogues for the batched path ...
    long_new_tokens: int = 128  # ... and new tokens (the lab allows up to 200)
    seq_dialogues: int = 4  # one-at-a-time path: dialogues generated (a length-spread subset)
    new_tokens: int = 32  # fixed new tokens per dialogue (min_new_tokens = max_new_tokens)
    eval_batch_size: int = 16  # the kit's default (settings.eval_batch_size)
    train_batch: int = 2
    train_steps: int = 2  # timed steps, after one warm-up step
    cpu_dialogues: int = 4  # CPU-options benchmarks: batch of dialogues ...
    cpu_new_tokens: int = 16  # ... and new tokens
    cpu_input_tokens: int = 128  # forward-pass benchmark: encoder tokens per dialogue
    rounds: int = 5  # alternated rounds (A B A B ...) of the short measurements: matmul, CPU options
    gen_rounds: int = 3  # alternated rounds of the generation comparisons (the slow ones)
    train_rounds: int = 2  # rounds of the training cases' processes; each gives train_steps paired samples
    matmul_n: int = 2048
    contention_rounds: int = 2  # rounds over every (thread policy, neighbour) cell, one child process per cell
    contention_steps: int = 6  # timed steps per cell (after one warm-up step)
    contention_input_tokens: int = 192  # the pre-trained stand-in's input length


FULL = Sizes()
QUICK = Sizes(
    gen_dialogues=4,
    long_dialogues=4,
    long_new_tokens=12,
    seq_dialogues=2,
    new_tokens=8,
    eval_batch_size=4,
    train_batch=1,
    train_steps=1,
    cpu_dialogues=2,
    cpu_new_tokens=4,
    cpu_input_tokens=32,
    rounds=3,
    gen_rounds=2,
    matmul_n=512,
    contention_rounds=1,
    contention_steps=2,
    contention_input_tokens=64,
)
TINY_SIZES = dataclasses.replace(
    QUICK,
    gen_dialogues=3,
    eval_batch_size=3,
    new_tokens=4,
    matmul_n=256,
    contention_steps=1,
    contention_input_tokens=16,
)


def build_model(config: dict[str, Any], seed: int) -> T5ForConditionalGeneration:
    """A randomly initialised T5 with ``config``; lm_head untied from the embedding as in FLAN-T5."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(T5Config(**config))
    if model.lm_head.weight is model.shared.weight:  # transformers 5 ties a newly built T5; FLAN-T5 is untied
        model.lm_head.weight = torch.nn.Parameter(model.shared.weight.detach().clone())
    model.generation_config = GenerationConfig(**GENERATION_IDS)
    return model.eval()
