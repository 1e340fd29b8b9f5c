"""A tiny random T5 (and a LoRA policy on it) for tests and seconds-long demonstrations of PPO.

It has T5's layout (q/k/v/o attention, gated-GELU feed-forward, pad 0, EOS 1, decoder start 0)
but a vocabulary of ``vocab_size`` ids, no tokenizer, and random weights: its outputs mean nothing.
"""

from __future__ import annotations

from typing import Any

TINY_CONFIG = dict(
    d_model=32,
    d_kv=8,
    num_heads=4,
    d_ff=64,
    num_layers=2,
    num_decoder_layers=2,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
    dropout_rate=0.1,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)
TINY_LORA = dict(r=8, lora_alpha=16, target_modules=["q", "v"], lora_dropout=0.05, bias="none")


def tiny_t5(vocab_size: int = 64, seed: int = 0) -> Any:
    """A random ``T5ForConditionalGeneration`` with d_model 32 and 2+2 layers, the same for the same seed."""
    from ..standin.architecture import random_model

    # T5's own initialisation (no embedding scaling): the PPO tests' learning rates were tuned on it.
    return random_model(vocab_size, seed, config=TINY_CONFIG, scale_embedding=False)


def tiny_lora_config(**overrides: Any) -> Any:
    """A seq2seq ``LoraConfig`` for the tiny T5 (r 8 on q and v unless overridden)."""
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, **(TINY_LORA | overrides))


def tiny_policy(vocab_size: int = 64, seed: int = 0, **lora: Any) -> Any:
    """``tiny_t5`` with a fresh LoRA adapter (B = 0, so it starts equal to the model without adapter)."""
    from peft import get_peft_model

    return get_peft_model(tiny_t5(vocab_size, seed), tiny_lora_config(**lora))
