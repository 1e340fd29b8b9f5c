"""How the pre-trained stand-in is trained: the plan (steps, batch, task mix, lengths), in one dataclass."""

from __future__ import annotations

import dataclasses
import math

TASKS = ("span_corruption", "topic", "next_turn")  # what each task is: labs_helpers.standin.tasks


@dataclasses.dataclass(frozen=True)
class PretrainPlan:
    """How the stand-in is pre-trained; every field but ``checkpoint_every`` is in the cache key."""

    steps: int = 500
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 30
    max_input_tokens: int = 256
    max_target_tokens: int = 64
    noise_density: float = 0.15
    mean_span_length: float = 3.0
    task_mix: tuple[tuple[str, float], ...] = (("span_corruption", 0.5), ("topic", 0.2), ("next_turn", 0.3))
    max_passes: int = 50  # at most this many examples per dialogue: a small dataset builds in seconds
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.task_mix if name not in TASKS]
        if unknown or not self.task_mix:
            raise ValueError(f"task_mix {self.task_mix!r}: use names from {', '.join(TASKS)} with positive weights.")
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError("steps, batch_size and checkpoint_every must be at least 1.")

    def key_fields(self) -> dict:
        """The fields that decide the weights (everything but how often to checkpoint)."""
        fields = dataclasses.asdict(self)
        fields.pop("checkpoint_every")
        fields["task_mix"] = [list(pair) for pair in self.task_mix]
        return fields

    def steps_for(self, n_dialogues: int) -> int:
        """Optimizer steps for ``n_dialogues``: ``steps``, or fewer for a small dataset."""
        return max(1, min(self.steps, math.ceil(self.max_passes * n_dialogues / self.batch_size)))


DEFAULT_PLAN = PretrainPlan()
