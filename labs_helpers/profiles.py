"""The kit's profiles: ``course`` (FLAN-T5 from the Hub), ``offline`` (a stand-in), or ``auto``, and their sizes."""

from __future__ import annotations

from . import course
from .errors import LabsError

PROFILES = ("auto", "course", "offline")
STANDINS = ("instant", "pretrained")
MAX_LEARNING_RATE = 1.0  # Adam moves each weight by about lr per step: above 1 every run diverges

# Sizes and learning rates. ``course`` follows the lab where it makes sense (10 test dialogues in the
# lab's ROUGE cell; we use 50 unique ones; its learning rates). ``pretrained`` is the offline default
# (``make labs`` without the Hub): big enough for the stand-in to show what fine-tuning does; a
# 2.5M-parameter model needs larger steps than FLAN-T5's 250M. ``instant`` is small enough for CI on two
# CPU cores. PPO (notebook 06): the lab's 10 steps of 16 at 1.41e-5 on the course profile; the stand-ins'
# LoRA needs larger steps to move at all within a few PPO steps.
# How the pretrained budgets were measured, and the commands that measure them again: docs/standin-history.md.
SIZES: dict[str, dict[str, float]] = {
    "course": dict(
        n_eval=50,
        train_steps=200,
        train_examples=2000,
        batch_size=8,
        eval_batch_size=16,
        max_new_tokens=200,
        full_lr=course.FULL_LEARNING_RATE,
        lora_lr=course.LORA_LEARNING_RATE,
        ppo_steps=course.PPO_STEPS,
        ppo_lr=course.PPO_LEARNING_RATE,
        ppo_batch_size=course.PPO_BATCH_SIZE,
    ),
    "pretrained": dict(
        n_eval=50,
        train_steps=1200,  # 2400 gained +0.020 with one seed, +0.005 with another: not worth twice the time
        train_examples=12000,
        batch_size=16,
        eval_batch_size=16,
        max_new_tokens=50,
        full_lr=2e-3,  # beat 1e-3 and 3e-3 on the narrow and on the wide stand-in
        lora_lr=5e-3,  # beat 3e-3; at 1e-2 the summaries were garbled
        ppo_steps=20,
        ppo_lr=1e-3,
        ppo_batch_size=16,
    ),
    "instant": dict(
        n_eval=6,
        train_steps=40,
        train_examples=256,
        batch_size=8,
        eval_batch_size=16,
        max_new_tokens=50,
        full_lr=1e-3,
        lora_lr=3e-3,
        ppo_steps=4,
        ppo_lr=1e-3,
        ppo_batch_size=8,
    ),
}


def _course_unavailable(model: str, timeout: float) -> str:
    """The one message for a course profile that cannot have its model."""
    return (
        f"LABS_PROFILE=course needs the model {model}, but the Hugging Face Hub did not answer "
        f"within {timeout:g} s and the model is not in the local Hugging Face cache. "
        "Connect to the internet (or download the model once where you have it), "
        "or run offline with LABS_PROFILE=offline (or leave LABS_PROFILE unset for auto)."
    )


def resolve_profile(requested: str, model: str, timeout: float) -> tuple[str, str]:
    """``course`` or ``offline`` for the ``requested`` profile, and a note why; ``auto`` probes the Hub."""
    from .hub import hub_reachable, is_local_folder, model_in_cache

    if requested == "offline":
        return "offline", ""
    if hub_reachable(timeout=timeout):
        return "course", ""
    if is_local_folder(model):  # a folder is not the Hub's cache: say what it means for the budgets
        if requested == "course":
            return "course", f"The Hub did not answer; using the local folder {model} with the course's budgets."
        return "offline", (
            f"The Hub did not answer and LABS_MODEL={model} is a local folder, so this run is offline: that model, "
            "local data and the offline budgets. Set LABS_PROFILE=course for the course's budgets."
        )
    if model_in_cache(model):
        return "course", f"The Hub did not answer; using {model} from the local Hugging Face cache."
    if requested == "course":
        raise LabsError(_course_unavailable(model, timeout))
    banner = (
        "*** OFFLINE: the Hugging Face Hub did not answer within "
        f"{timeout:g} s and {model} is not cached, so this run uses the kit's\n"
        "*** offline stand-in model and local data. Its outputs are NOT FLAN-T5's. "
        "To use the real model, connect and re-run,\n"
        "*** or set LABS_PROFILE=course to make a missing Hub an error; "
        "LABS_PROFILE=offline hides this banner."
    )
    return "offline", banner
