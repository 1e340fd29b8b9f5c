"""A tiny random T5 (and a LoRA policy on it) for the rlhf tests: ``from tiny_models import tiny_policy``.

It has FLAN-T5's layout (``FLAN_T5_LAYOUT``: gated-GELU feed-forward, pad 0, EOS 1, decoder start 0)
with small sizes, a vocabulary of ``vocab_size`` ids, no tokenizer, and random weights: its outputs
mean nothing. Test support, not part of the kit: pytest puts this folder on ``sys.path`` for its tests.
"""

from __future__ import annotations

from typing import Any

from labs_helpers.standin.architecture import FLAN_T5_LAYOUT

TINY_CONFIG = FLAN_T5_LAYOUT | dict(d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2, num_decoder_layers=2)
TINY_LORA = dict(r=8, lora_alpha=16, target_modules=["q", "v"], lora_dropout=0.05, bias="none")


def tiny_t5(vocab_size: int = 64, seed: int = 0) -> Any:
    """A random ``T5ForConditionalGeneration`` with d_model 32 and 2+2 layers, the same for the same seed."""
    from labs_helpers.standin.architecture import random_model

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
