"""Notebook 06's DPO as one call, for ``python -m labs_helpers.train dpo``, with ``train ppo``'s conventions.

A new run folder gets ``final/`` (the adapter, the tokenizer and ``dpo_policy.json``), ``dpo_history.csv``
(loss, accuracy and margin of every update) and ``train_summary.json``. The pairs come from the
slice of the lab's train part where the reward has signal (``toxic_slice``), two sampled summaries
per dialogue, as many generations as PPO's rollouts (``--steps`` x ``--batch-size``). A non-finite
loss stops the run before anything is saved as ``final/``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LabsError
from ..runs import FINAL
from .dpo import DPOConfig
from .policy import REFERENCES, check_adapter_folder, save_atomically
from .start import check_adapter_base, run_fields

if TYPE_CHECKING:
    from ..finetuning import FinetunePlan
    from ..settings import Settings

HISTORY = "dpo_history.csv"
SUMMARY = "train_summary.json"
CARD = "dpo_policy.json"


@dataclasses.dataclass(frozen=True)
class DPORun:
    """One DPO run, made once from the settings: as ``PPORun``, with DPO's settings for PPO's learning rate."""

    model: str
    adapter: str | None
    reference: str
    steps: int  # PPO steps this run matches in generations: steps x batch_size summaries, two per pair
    batch_size: int
    seed: int
    device: str
    offline: bool
    max_new_tokens: int
    run_dir: str
    fallback: FinetunePlan
    dpo: DPOConfig = dataclasses.field(default_factory=DPOConfig)

    def __post_init__(self) -> None:
        if self.reference not in REFERENCES:
            raise LabsError(f"--reference {self.reference}: use 'instruct' or 'base'.")
        if self.steps < 1 or self.batch_size < 2:
            raise LabsError(
                f"--steps {self.steps} --batch-size {self.batch_size}: use 1 or more steps and a batch of 2 or more."
            )
        if self.adapter is not None:
            check_adapter_folder(self.adapter)
            check_adapter_base(self.adapter, self.model)

    @property
    def pairs(self) -> int:
        """Pairs to sample: half of PPO's rollouts, so that both spend the same generations."""
        return self.steps * self.batch_size // 2

    @classmethod
    def from_settings(cls, settings: Settings, model: str, **overrides: Any) -> DPORun:
        """The settings' PPO budget (LABS_PPO_STEPS, LABS_PPO_BATCH_SIZE), DPO's defaults, options on top."""
        dpo = {k: overrides.pop(k, None) for k in ("beta", "learning_rate")}  # DPOConfig's, not the run's
        values = run_fields(settings, model) | {"dpo": DPOConfig(**{k: v for k, v in dpo.items() if v})}
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


def save_adapter(folder: Path, model: Any, tokenizer: Any, card: dict) -> Path:
    """The adapter, tokenizer and card written atomically into ``folder`` (never into a non-empty one)."""

    def write(tmp: Path) -> None:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / CARD).write_text(json.dumps(card, indent=2))

    return save_atomically(folder, write)


def run_dpo(run: DPORun, dataset: Any, folder: str | Path) -> dict[str, Any]:
    """Train ``run`` into ``folder`` (the adapter in ``final/``, the history, a summary); returns the summary."""
    import pandas as pd
    import torch
    from transformers import AutoTokenizer, set_seed

    from .data import build_lab_dataset, query_tensors, summary_token_budget
    from .dpo import make_pairs, train_dpo
    from .run import _policy, reward_for, summary_fields
    from .toxic_slice import select_slice

    folder = Path(folder)
    set_seed(run.seed)
    tokenizer = AutoTokenizer.from_pretrained(run.model)
    reward = reward_for(run.offline)
    part = select_slice(build_lab_dataset(dataset["train"], tokenizer, run.seed)["train"], reward, run.dpo.batch_size)
    policy, adapter = _policy(run, dataset, folder)  # type: ignore[arg-type]
    length = min(run.max_new_tokens, summary_token_budget(tokenizer, dataset["train"]["summary"][:2000]))
    pairs, ties = make_pairs(policy, tokenizer, query_tensors(part.train), reward, length, run.seed, count=run.pairs)
    torch.manual_seed(run.seed)
    history = train_dpo(policy, pairs, run.dpo, run.seed)
    card = {"reference": run.reference, "start_adapter": str(adapter), "beta": run.dpo.beta, "pairs": len(pairs)}
    save_adapter(folder / FINAL, policy, tokenizer, card)
    pd.DataFrame(history).to_csv(folder / HISTORY, index_label="update")
    summary = summary_fields(run) | {
        "adapter": str(adapter),
        "output_dir": str(folder),
        "final": str(folder / FINAL),
        "reward_model": reward.name,
        "slice": part.describe(),
        "pairs": len(pairs),
        "ties_left_out": ties,
        "first_loss": round(history[0]["loss"], 4),
        "last_loss": round(history[-1]["loss"], 4),
    }
    (folder / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary
