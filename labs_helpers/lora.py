"""Parameters counted the lab's way, and LoRA adapters checked before ``get_peft_model`` sees them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import LabsError
from .settings import quiet_library_notices

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig, PeftModel


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, all) parameter counts, as the lab's ``print_number_of_trainable_model_parameters``."""
    trainable = total = 0
    for _, param in model.named_parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total


def describe_parameters(model: torch.nn.Module) -> str:
    """The lab's three-line printout of trainable parameters."""
    trainable, total = count_parameters(model)
    return (
        f"trainable model parameters: {trainable}\nall model parameters: {total}\n"
        f"percentage of trainable model parameters: {100 * trainable / total:.2f}%"
    )


def module_names(model: torch.nn.Module) -> list[str]:
    """The distinct last components of the model's Linear module names (what ``target_modules`` matches)."""
    import torch

    return sorted(
        {name.split(".")[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    )


def check_lora_config(model: torch.nn.Module, config: LoraConfig) -> None:
    """One clear error for an r or alpha that is not positive, or a target module the model lacks."""
    if not isinstance(config.r, int) or config.r <= 0:
        raise LabsError(
            f"LoraConfig(r={config.r!r}): the rank r must be a whole number of 1 or more "
            "(the lab uses r=32; small values such as 8 or 16 also work)."
        )
    if config.lora_alpha <= 0:
        raise LabsError(f"LoraConfig(lora_alpha={config.lora_alpha!r}): use a positive value (the lab uses 32).")
    targets = config.target_modules
    names = ", ".join(module_names(model))
    if isinstance(targets, str):  # a regular expression: let PEFT match it, but it must match something
        if not any(re.fullmatch(targets, name) for name, _ in model.named_modules()):
            raise LabsError(
                f"LoraConfig(target_modules={targets!r}) matches no module of {type(model).__name__}. "
                f"Its Linear layers are named {names}."
            )
        return
    available = set(module_names(model))
    missing = sorted(t for t in targets or [] if t.split(".")[-1] not in available)
    if missing:
        raise LabsError(
            f"LoraConfig(target_modules=...): {type(model).__name__} has no module named "
            f"{', '.join(repr(m) for m in missing)}. Its Linear layers are named {names} (T5 attention: q, k, v, o)."
        )


def add_lora(model: torch.nn.Module, config: LoraConfig) -> PeftModel:
    """``get_peft_model(model, config)`` after ``check_lora_config``, without the libraries' version chatter."""
    import warnings

    from peft import get_peft_model

    check_lora_config(model, config)
    with warnings.catch_warnings():
        # A FutureWarning between libraries that lands in notebook 05's checked exercise cell (plain nbval
        # fails): silenced here too, for callers that never went through get_settings.
        quiet_library_notices()
        return get_peft_model(model, config)
