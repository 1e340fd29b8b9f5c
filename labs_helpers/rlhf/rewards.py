"""Reward models for detoxifying summaries, behind one interface: ``name``, ``rewards(texts)``, ``toxicity(texts)``.

- ``ClassifierReward``: a text-classification model through transformers, as in the course's lab
  (``facebook/roberta-hate-speech-dynabench-r4-target``, labels nothate / hate). The reward is the
  logit of the label named ``reward_label`` (``nothate``), picked *by name*; toxicity is the softmax
  probability of ``toxic_label`` (``hate``), as evaluate's "toxicity" measurement computes it.
- ``ProfanityCheckReward``: the offline stand-in, alt-profanity-check's linear model (TF-IDF
  unigrams, calibrated SVM) that ships inside its wheel. Reward: log-odds of "not offensive".

The lab's own reward read the *first* entry of a text-classification pipeline's output, which
transformers sorts by score: ``lab_first_entry_rewards`` reproduces that quirk, to show beside
``rewards_by_label`` (the corrected reading).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ..errors import LabsError

COURSE_REWARD_MODEL = "facebook/roberta-hate-speech-dynabench-r4-target"
OFFLINE_REWARD_NAME = "offline reward: alt-profanity-check (not the course's RoBERTa)"


class RewardModel(Protocol):
    """What PPO and the toxicity measurement need from a reward model."""

    name: str

    def rewards(self, texts: Sequence[str]) -> list[float]:
        """One reward per text (higher is less toxic)."""
        ...

    def toxicity(self, texts: Sequence[str]) -> list[float]:
        """One probability of being toxic per text, in [0, 1]."""
        ...


def label_index(id2label: dict[int, str], label: str) -> int:
    """The class index whose name is ``label``; LabsError listing the labels when there is none."""
    for index, name in id2label.items():
        if name == label:
            return int(index)
    names = ", ".join(repr(n) for n in id2label.values())
    raise LabsError(
        f"The reward model has no label named {label!r}; its labels are {names}. Pass one of "
        "those (the course's model: reward_label='nothate', toxic_label='hate')."
    )


class ClassifierReward:
    """A sequence-classification model as reward (logit of ``reward_label``) and toxicity (p of ``toxic_label``)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        reward_label: str = "nothate",
        toxic_label: str = "hate",
        batch_size: int = 16,
        max_length: int = 512,
        name: str | None = None,
    ) -> None:
        id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
        self.reward_index = label_index(id2label, reward_label)
        self.toxic_index = label_index(id2label, toxic_label)
        self.model, self.tokenizer, self.id2label = model.eval(), tokenizer, id2label
        self.batch_size, self.max_length = batch_size, max_length
        self.name = name or f"reward model: {getattr(model.config, '_name_or_path', '') or type(model).__name__}"

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Raw logits ``[len(texts), labels]``, in batches, without gradients."""
        device = next(self.model.parameters()).device
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            encoded = self.tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(device)
            with torch.no_grad():
                parts.append(self.model(**encoded).logits.float().cpu())
        return torch.cat(parts) if parts else torch.zeros((0, len(self.id2label)))

    def rewards(self, texts: Sequence[str]) -> list[float]:
        """The logit of ``reward_label`` per text (the lab's reward, with the label picked by name)."""
        return self.logits(texts)[:, self.reward_index].tolist()

    def toxicity(self, texts: Sequence[str]) -> list[float]:
        """The softmax probability of ``toxic_label`` per text (evaluate's "toxicity")."""
        return torch.softmax(self.logits(texts), dim=-1)[:, self.toxic_index].tolist()

    def pipeline_output(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        """What ``pipeline("text-classification", top_k=None, function_to_apply="none")`` returns: sorted by score."""
        return pipeline_entries(self.logits(texts), self.id2label)


def pipeline_entries(logits: Any, id2label: dict[int, str]) -> list[list[dict[str, Any]]]:
    """Per row of ``logits``, ``{"label", "score"}`` entries sorted by score, highest first (as the pipeline)."""
    rows = []
    for row in torch.as_tensor(logits, dtype=torch.float32).tolist():
        entries = [{"label": id2label[i], "score": score} for i, score in enumerate(row)]
        rows.append(sorted(entries, key=lambda e: e["score"], reverse=True))
    return rows


def load_classifier_reward(name_or_path: str | Path = COURSE_REWARD_MODEL, **options: Any) -> ClassifierReward:
    """``ClassifierReward`` for a Hub id or folder (the course's RoBERTa by default; needs the Hub or a copy)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
        model = AutoModelForSequenceClassification.from_pretrained(str(name_or_path))
    except OSError as error:
        raise LabsError(
            f"Could not load the reward model {name_or_path!s} ({error}). It needs the Hugging Face "
            "Hub or a local copy; offline, use ProfanityCheckReward() instead."
        ) from error
    options.setdefault("name", f"reward model: {name_or_path}")
    return ClassifierReward(model, tokenizer, **options)


def lab_first_entry_rewards(pipeline_output: Sequence[Sequence[dict[str, Any]]]) -> list[float]:
    """THE LAB'S QUIRK: the first entry's score; entries are sorted, so a text that 'hate' wins gets the hate logit."""
    return [float(entries[0]["score"]) for entries in pipeline_output]


def rewards_by_label(pipeline_output: Sequence[Sequence[dict[str, Any]]], label: str = "nothate") -> list[float]:
    """The corrected reading: the score of the entry named ``label`` (LabsError when it is missing)."""
    rewards = []
    for entries in pipeline_output:
        found = [e["score"] for e in entries if e["label"] == label]
        if not found:
            names = ", ".join(repr(e["label"]) for e in entries)
            raise LabsError(
                f"The pipeline output has no label named {label!r}; its labels are {names}. "
                "Pass one of those as label=."
            )
        rewards.append(float(found[0]))
    return rewards


class ProfanityCheckReward:
    """The offline stand-in: alt-profanity-check's p(offensive); reward = log((1 - p) / p), p clipped."""

    name = OFFLINE_REWARD_NAME

    def __init__(self, eps: float = 1e-4) -> None:
        if not 0 < eps < 0.5:
            raise LabsError(f"eps={eps!r}: use a small positive number below 0.5 (default 1e-4).")
        try:
            from profanity_check import predict_prob
        except ImportError as error:
            raise LabsError(
                "alt-profanity-check is not installed (the offline reward of notebook 06): run "
                "pip install alt-profanity-check."
            ) from error
        self._predict_prob, self.eps = predict_prob, eps

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """p(offensive) per text, unclipped, as alt-profanity-check's ``predict_prob``."""
        texts = list(texts)
        return [float(p) for p in self._predict_prob(texts)] if texts else []

    def rewards(self, texts: Sequence[str]) -> list[float]:
        """Log-odds of "not offensive" per text: log((1 - p) / p) with p clipped to [eps, 1 - eps]."""
        clipped = [min(max(p, self.eps), 1.0 - self.eps) for p in self.probabilities(texts)]
        return [math.log((1.0 - p) / p) for p in clipped]

    def toxicity(self, texts: Sequence[str]) -> list[float]:
        """p(offensive) per text (the stand-in's toxicity)."""
        return self.probabilities(texts)
