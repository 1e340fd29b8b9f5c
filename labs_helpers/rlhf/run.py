"""Notebook 06's PPO as one call, for ``python -m labs_helpers.train ppo``: a run folder that is never reused.

The folder gets ``final/`` (the adapter, the value head, the tokenizer and the policy card),
``ppo_history.csv`` (every statistic of every step) and ``train_summary.json``; when no starting
adapter is given, the LoRA trained first (as notebook 06 does without notebook 05) goes in ``lora/``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import course
from ..errors import LabsError
from ..runs import FINAL, Interrupted
from .policy import REFERENCES, check_adapter_folder
from .ppo import PPOConfig
from .start import check_adapter_base, run_fields, start_adapter

if TYPE_CHECKING:
    from ..finetuning import FinetunePlan
    from ..settings import Settings

HISTORY = "ppo_history.csv"
SUMMARY = "train_summary.json"
# Where and how a run trains rather than what it is: fields its summary leaves out.
MACHINE = ("device", "offline", "max_new_tokens", "run_dir", "fallback")


@dataclasses.dataclass(frozen=True)
class PPORun:
    """One PPO run, made once from the settings: the model, where PPO starts, the KL reference, budgets, machine."""

    model: str
    adapter: str | None  # None: notebook 05's latest adapter for the model, else ``fallback`` trained first
    reference: str
    steps: int
    learning_rate: float
    batch_size: int
    seed: int
    device: str
    offline: bool  # the offline reward (alt-profanity-check), not the course's RoBERTa
    max_new_tokens: int  # at most: the lab's summaries may ask for fewer
    run_dir: str  # where notebook 05's adapters are looked for
    fallback: FinetunePlan  # the short LoRA trained first when no adapter is given or found

    def __post_init__(self) -> None:
        if self.reference not in REFERENCES:
            raise LabsError(
                f"--reference {self.reference}: use 'instruct' (KL to the Lab 2 summarizer) or 'base' "
                "(KL to the model without adapter, as the course's trl did)."
            )
        if self.steps < 1:
            raise LabsError(f"--steps {self.steps}: use 1 or more PPO steps.")
        if not self.learning_rate > 0:
            raise LabsError(
                f"--lr {self.learning_rate}: use a positive learning rate (the lab: {course.PPO_LEARNING_RATE:g})."
            )
        if self.adapter is not None:
            check_adapter_folder(self.adapter)
            check_adapter_base(self.adapter, self.model)
        if self.batch_size % course.PPO_MINI_BATCH_SIZE:  # refused here, before any folder exists
            raise LabsError(
                f"PPO batch size {self.batch_size} (--batch-size, else LABS_PPO_BATCH_SIZE) is not a multiple of "
                f"mini_batch_size {course.PPO_MINI_BATCH_SIZE}: set --batch-size or LABS_PPO_BATCH_SIZE to 4, 8, 16 "
                f"(the lab's {course.PPO_BATCH_SIZE}) or another multiple of {course.PPO_MINI_BATCH_SIZE}."
            )
        self.config()

    def config(self) -> PPOConfig:
        """The ``PPOConfig`` of this run: the lab's settings with this run's learning rate and batch size."""
        return PPOConfig(
            learning_rate=self.learning_rate, mini_batch_size=course.PPO_MINI_BATCH_SIZE, batch_size=self.batch_size
        )

    @classmethod
    def from_settings(cls, settings: Settings, model: str, **overrides: Any) -> PPORun:
        """The settings' PPO budgets (LABS_PPO_*), the 'instruct' reference, options on top."""
        values = run_fields(settings, model) | {"learning_rate": settings.ppo_lr}
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


def summary_fields(run: Any) -> dict[str, Any]:
    """A PPO or DPO run's fields for its summary: what it trains, not the machine it trains on (``MACHINE``)."""
    return {k: v for k, v in dataclasses.asdict(run).items() if k not in MACHINE}


def reward_for(offline: bool) -> Any:
    """The course's RoBERTa reward on the course profile; alt-profanity-check offline."""
    from .rewards import ProfanityCheckReward, load_classifier_reward

    return ProfanityCheckReward() if offline else load_classifier_reward()


def _policy(run: PPORun, dataset: Any, folder: Path) -> tuple[Any, Path]:
    from transformers import AutoModelForSeq2SeqLM

    from .policy import build_policy

    if run.adapter is not None:
        adapter = Path(run.adapter)
    else:
        adapter = start_adapter(run.run_dir, run.fallback, dataset, folder)
    base = AutoModelForSeq2SeqLM.from_pretrained(run.model, dtype="float32")
    return build_policy(base, adapter, reference=run.reference).to(run.device), adapter


def run_ppo(run: PPORun, dataset: Any, folder: str | Path) -> dict[str, Any]:
    """Train ``run`` into ``folder`` (the policy in ``final/``, the history, a summary); returns the summary."""
    import torch
    from transformers import AutoTokenizer, set_seed

    from .data import build_lab_dataset, query_tensors, summary_token_budget
    from .loop import history_table, print_step, train_ppo
    from .policy import save_policy
    from .ppo import PPOTrainer

    config = run.config()
    folder = Path(folder)
    set_seed(run.seed)
    tokenizer = AutoTokenizer.from_pretrained(run.model)
    lab_data = build_lab_dataset(dataset["train"], tokenizer, seed=run.seed)
    policy, adapter = _policy(run, dataset, folder)
    trainer, reward = PPOTrainer(config, policy, tokenizer), reward_for(run.offline)
    budget = summary_token_budget(tokenizer, dataset["train"]["summary"][:2000])
    max_new_tokens = min(run.max_new_tokens, budget)
    torch.manual_seed(run.seed)
    done: list[int] = []

    def on_step(step: int, stats: dict[str, float]) -> None:
        print_step(step, stats)
        done.append(step)

    try:
        history = train_ppo(
            trainer, reward.rewards, query_tensors(lab_data["train"]), run.steps, max_new_tokens, 5, run.seed, on_step
        )
    except KeyboardInterrupt:  # Ctrl-C: one sentence, not a traceback
        raise Interrupted(
            f"Interrupted after {len(done)} of {run.steps} PPO steps: a PPO run keeps no checkpoints, so nothing "
            "was saved as final/; run the command again for a fresh run."
        ) from None
    save_policy(folder / FINAL, policy, trainer.value_head, tokenizer, ppo_steps=run.steps)
    history_table(history).to_csv(folder / HISTORY)
    summary = summary_fields(run) | {
        "adapter": str(adapter),
        "output_dir": str(folder),
        "final": str(folder / FINAL),
        "reward_model": reward.name,
        "max_new_tokens": max_new_tokens,
        "first": {k: round(history[0][k], 4) for k in ("objective/kl", "ppo/returns/mean", "env/reward_mean")},
        "last": {k: round(history[-1][k], 4) for k in ("objective/kl", "ppo/returns/mean", "env/reward_mean")},
    }
    (folder / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary
