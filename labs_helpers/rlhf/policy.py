"""The PPO policy: a seq2seq model with a LoRA adapter, a small value head, and their save and load.

The reference model for the KL penalty is the same peft model with its adapter switched off
(``with model.disable_adapter():``), so there is never a second copy of the weights. What that
reference *is* depends on how the policy was built (``build_policy(..., reference=...)``):

- ``"base"``: the Lab 2 adapter itself keeps training; the reference is the raw model without
  any adapter. This is what the course's trl really did (it ignored the reference model it was given).
- ``"instruct"``: the Lab 2 adapter is merged into the weights and a fresh LoRA adapter with the
  same settings trains on top; the reference is the Lab 2 summarizer, as the lab's text describes.

``save_policy`` writes the adapter, ``value_head.safetensors`` and ``ppo_policy.json`` (which records
the reference). To load, pass ``load_policy`` the model the adapter was trained on: the raw model
for ``"base"``, or ``merge_adapter(raw_model, lab2_adapter_folder)`` for ``"instruct"``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..errors import LabsError

REFERENCES = ("base", "instruct")
VALUE_HEAD_WEIGHTS = "value_head.safetensors"
POLICY_CARD = "ppo_policy.json"


class ValueHead(torch.nn.Module):
    """``Linear(d_model, 1)`` on the decoder's last hidden state: one value estimate per response token."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.summary = torch.nn.Linear(d_model, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Values ``[batch, length]`` from hidden states ``[batch, length, d_model]``."""
        return self.summary(hidden.to(self.summary.weight.dtype)).squeeze(-1)


def check_seq2seq(model: Any) -> None:
    """Raise LabsError unless ``model`` is an encoder-decoder (T5-like) model."""
    config = getattr(model, "config", None)
    if not getattr(config, "is_encoder_decoder", False):
        raise LabsError(
            f"{type(model).__name__} is not an encoder-decoder model: this PPO trains seq2seq "
            "policies such as T5; load one with AutoModelForSeq2SeqLM."
        )


def check_adapter_folder(folder: str | Path) -> Path:
    """``folder`` as a Path if it holds a peft adapter (adapter_config.json), else LabsError."""
    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise LabsError(
            f"{folder} holds no adapter_config.json, so it is not a peft adapter: point at the "
            "folder a LoRA run saved (e.g. the final/ folder of notebook 05's run)."
        )
    try:
        config = json.loads((folder / "adapter_config.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise LabsError(
            f"{folder}/adapter_config.json is not readable JSON ({error}): the adapter was saved incompletely "
            "or edited by hand. Point at a whole adapter folder, or train it again."
        ) from None
    if not isinstance(config, dict):
        raise LabsError(f"{folder}/adapter_config.json holds no settings object: point at a whole adapter folder.")
    _check_adapter_weights(folder)
    return folder


def _check_adapter_weights(folder: Path) -> None:
    """LabsError when ``adapter_model.safetensors`` is there but cannot be read (truncated, say)."""
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        return  # peft also reads adapter_model.bin; its own message covers a folder without weights
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as opened:
            opened.keys()
    except (SafetensorError, OSError) as error:
        raise LabsError(
            f"{weights} cannot be read ({error}): the adapter was saved incompletely (a copy cut short?). "
            "Copy it again or train it again, or leave --adapter out to train one."
        ) from None


def value_head_for(model: Any) -> ValueHead:
    """A new value head sized to ``model``'s ``d_model`` (769 parameters for FLAN-T5-base)."""
    check_seq2seq(model)
    return ValueHead(int(model.config.d_model))


def _fresh_lora(model: Any, lora_config: Any) -> Any:
    from peft import get_peft_model

    return get_peft_model(model, lora_config)


def merge_adapter(base_model: Any, adapter_folder: str | Path) -> Any:
    """``base_model`` with the LoRA adapter of ``adapter_folder`` merged into its weights (a plain model)."""
    from peft import PeftModel

    check_seq2seq(base_model)
    folder = check_adapter_folder(adapter_folder)
    return PeftModel.from_pretrained(base_model, str(folder)).merge_and_unload()


def build_policy(base_model: Any, adapter_folder: str | Path, reference: str = "base") -> Any:
    """A trainable peft policy from a base model and a LoRA adapter folder; ``reference`` picks the KL anchor."""
    from peft import LoraConfig, PeftModel

    check_seq2seq(base_model)
    folder = check_adapter_folder(adapter_folder)
    if reference not in REFERENCES:
        raise LabsError(
            f"reference={reference!r}: use 'base' (KL to the model without adapter, as the course's "
            "trl did) or 'instruct' (KL to the Lab 2 summarizer, as the lab's text says)."
        )
    if reference == "base":
        model = PeftModel.from_pretrained(base_model, str(folder), is_trainable=True)
    else:
        saved = LoraConfig.from_pretrained(str(folder))
        settings = {k: v for k, v in saved.to_dict().items() if k in LoraConfig.__dataclass_fields__}
        settings.update(inference_mode=False)
        model = _fresh_lora(merge_adapter(base_model, folder), LoraConfig(**settings))
    model.labs_reference = reference  # read by save_policy, with the adapter it started from
    model.labs_start_adapter = str(folder)
    freeze_all_but_lora(model)
    return model


def freeze_all_but_lora(model: Any) -> None:
    """Make only the LoRA parameters trainable (``requires_grad``), everything else frozen."""
    lora = [p for name, p in model.named_parameters() if "lora_" in name]
    if not lora:
        raise LabsError(
            f"{type(model).__name__} has no LoRA parameters: build the policy with build_policy "
            "or get_peft_model(model, LoraConfig(...))."
        )
    for name, param in model.named_parameters():
        param.requires_grad_("lora_" in name)


def trainable_parameters(model: Any, value_head: ValueHead) -> list[Any]:
    """The parameters PPO updates: the model's LoRA weights, then the value head's."""
    return [p for p in model.parameters() if p.requires_grad] + list(value_head.parameters())


def _write_policy(tmp: Path, model: Any, value_head: ValueHead, tokenizer: Any, extra: dict) -> None:
    from safetensors.torch import save_file

    model.save_pretrained(str(tmp))
    weights = {k: v.detach().cpu().contiguous() for k, v in value_head.state_dict().items()}
    save_file(weights, str(tmp / VALUE_HEAD_WEIGHTS))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(tmp))
    card = {
        "d_model": value_head.summary.in_features,
        "reference": getattr(model, "labs_reference", "unknown"),
        "start_adapter": getattr(model, "labs_start_adapter", None),
    } | extra
    (tmp / POLICY_CARD).write_text(json.dumps(card, indent=2))


def save_policy(folder: str | Path, model: Any, value_head: ValueHead, tokenizer: Any = None, **card: Any) -> Path:
    """Save adapter + value head (+ tokenizer) into ``folder`` atomically; never into a non-empty folder."""
    return save_atomically(folder, lambda tmp: _write_policy(tmp, model, value_head, tokenizer, card))


def save_atomically(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """``write`` into a temporary folder beside ``folder``, then move it into place; never into a non-empty one."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise LabsError(
            f"{folder} already exists and is not empty: the kit never overwrites a saved policy; choose a new folder."
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".partial-", dir=folder.parent))
    try:
        write(tmp)
        if folder.exists():
            folder.rmdir()  # empty (checked above); os.replace needs it gone
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_value_head(folder: str | Path) -> ValueHead:
    """The value head saved by ``save_policy`` in ``folder``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    card_path, weights_path = folder / POLICY_CARD, folder / VALUE_HEAD_WEIGHTS
    if not card_path.is_file() or not weights_path.is_file():
        raise LabsError(
            f"{folder} has no {VALUE_HEAD_WEIGHTS} and {POLICY_CARD}: it was not saved by "
            "labs_helpers.rlhf.save_policy; point at a folder that was."
        )
    head = ValueHead(int(json.loads(card_path.read_text())["d_model"]))
    head.load_state_dict(load_file(str(weights_path)))
    return head


def load_policy(base_model: Any, folder: str | Path, trainable: bool = False) -> tuple[Any, ValueHead]:
    """(peft model, value head) from a ``save_policy`` folder, on the base it was trained on (see module doc)."""
    from peft import PeftModel

    check_seq2seq(base_model)
    folder = check_adapter_folder(folder)
    head = load_value_head(folder)
    model = PeftModel.from_pretrained(base_model, str(folder), is_trainable=trainable)
    model.labs_reference = json.loads((folder / POLICY_CARD).read_text()).get("reference", "unknown")
    return model, head
