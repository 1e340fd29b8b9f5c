"""Where PPO starts: notebook 05's LoRA adapter when one fits the model in use, else a short LoRA run now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LabsError

if TYPE_CHECKING:
    from ..finetuning import FinetunePlan
    from ..settings import Settings

ADAPTER = "adapter"  # the sub-folder of a notebook-05 run that holds its adapter
FALLBACK = "lora/final"  # where a notebook-06 run keeps the short LoRA it trained without notebook 05


def adapter_base(folder: str | Path) -> str | None:
    """The base model an adapter folder was trained on (``base_model_name_or_path``), or None."""
    config = Path(folder) / "adapter_config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text()).get("base_model_name_or_path")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):  # unreadable: not an adapter to start from
        return None


def _same_model(a: str | None, b: str) -> bool:
    if a is None:
        return False
    if a == b:
        return True
    return Path(a).expanduser().exists() and Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def latest_adapter(parent: str | Path, model_name: str, inside: str = ADAPTER) -> Path | None:
    """The newest ``<parent>/<run>/<inside>`` adapter trained on ``model_name`` (notebook 05's runs), or None."""
    found = [
        p / inside
        for p in Path(parent).glob("*-[0-9][0-9][0-9]")
        if (p / inside / "adapter_config.json").is_file() and _same_model(adapter_base(p / inside), model_name)
    ]
    return max(found, key=lambda p: p.relative_to(parent).parts[0], default=None)


def lora_fallback(settings: Settings, model_name: str) -> FinetunePlan:
    """The LoRA run PPO trains first when notebook 05 left no adapter: the settings' LoRA, a quarter of the steps."""
    from ..finetuning import FinetunePlan

    return FinetunePlan.from_settings("lora", settings, model_name, steps=max(1, settings.train_steps // 4))


def run_fields(settings: Settings, model_name: str) -> dict[str, Any]:
    """What a PPO or DPO run takes from the settings: the budgets, the seed, the machine and its fallback start."""
    return dict(
        model=model_name,
        adapter=None,
        reference="instruct",
        steps=settings.ppo_steps,
        batch_size=settings.ppo_batch_size,
        seed=settings.seed,
        device=settings.device,
        offline=settings.offline,
        max_new_tokens=settings.max_new_tokens,
        run_dir=str(settings.run_dir),
        fallback=lora_fallback(settings, model_name),
    )


def start_adapter(run_dir: str | Path, fallback: FinetunePlan, dataset: Any, run_folder: str | Path) -> Path:
    """Notebook 05's latest adapter for ``fallback.model``, else an earlier PPO run's, else ``fallback`` trained now."""
    from ..finetuning import finetune

    run_dir = Path(run_dir)
    found = latest_adapter(run_dir / "05_peft_lora", fallback.model) or latest_adapter(
        run_dir / "06_rlhf_detox", fallback.model, FALLBACK
    )
    if found is not None:
        return found
    print(f"no adapter of notebook 05 for this model: training the same LoRA now, {fallback.steps} steps (a quarter)")
    return finetune(fallback, dataset, output_dir=Path(run_folder) / "lora").final_dir


def starting_adapter(settings: Settings, dataset: Any, model_name: str, run_folder: str | Path) -> Path:
    """``start_adapter`` with the settings' run folder and LoRA (notebook 06 and the RLHF benchmark)."""
    return start_adapter(settings.run_dir, lora_fallback(settings, model_name), dataset, run_folder)


def check_adapter_base(folder: str | Path, model_name: str) -> None:
    """LabsError when the adapter in ``folder`` was trained on another model than ``model_name``."""
    base = adapter_base(folder)
    if base is not None and not _same_model(base, model_name):
        raise LabsError(
            f"The adapter in {folder} was trained on {base}, not on {model_name}: PPO must start from an "
            "adapter of the model in use; pass one trained on it, or leave --adapter out to train one."
        )
