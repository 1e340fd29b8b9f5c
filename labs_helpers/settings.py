"""One settings object for the whole kit, made once from the environment.

Every notebook starts with ``settings = get_settings()`` and prints its run card.
No other module and no notebook reads ``os.environ`` for the kit's settings.

Environment variables (all optional):

==================== ============================================================
LABS_PROFILE         ``auto`` (default), ``course`` or ``offline``
LABS_MODEL           model id or folder; default: google/flan-t5-base (course),
                     the local stand-in (offline)
LABS_STANDIN         ``pretrained`` (default: a small T5 pre-trained once on this
                     machine; for DialogSum ~12 min on 2 cores) or ``instant`` (random
                     weights, built in seconds; what the tests and CI use)
LABS_DATASET         dataset id or folder; default: knkarthick/dialogsum (course),
                     the kit's sample in ``data/`` (offline)
LABS_SEED            random seed (42)
LABS_DEVICE          ``cuda``, ``mps`` or ``cpu``; default: the best available
LABS_DTYPE           ``float32`` or ``bfloat16``: the weights when a notebook loads
                     a model; default: bf16 on CUDA that supports it, else fp32
                     (T5 overflows in fp16, so never that)
LABS_AUTOCAST        ``bfloat16`` or ``off``: training under bf16 autocast and batched
                     generation on bf16 weights; default: on where the hardware multiplies
                     bf16 natively (CUDA with bf16, CPUs with AMX or AVX-512 BF16)
LABS_N_EVAL          unique test dialogues to evaluate
LABS_TRAIN_STEPS     optimizer steps per training run
LABS_TRAIN_EXAMPLES  training examples to use (a slice of the train split)
LABS_BATCH_SIZE      training batch size
LABS_EVAL_BATCH_SIZE generation batch size
LABS_MAX_NEW_TOKENS  new tokens per generated summary
LABS_FULL_LR         learning rate of full fine-tuning (the lab's 1e-5 on FLAN-T5)
LABS_LORA_LR         learning rate of LoRA training (the lab's 1e-3)
LABS_PPO_STEPS       PPO steps in notebook 06 and ``train ppo`` (the lab's 10)
LABS_PPO_LR          PPO learning rate (the lab's 1.41e-5 on FLAN-T5)
LABS_PPO_BATCH_SIZE  summaries per PPO step, a multiple of 4 (the lab's 16)
LABS_CACHE           where built stand-ins live (~/.cache/labs-kit)
LABS_RUN_DIR         where notebooks write results (runs/interactive)
LABS_HUB_TIMEOUT     seconds to wait for the Hugging Face Hub in ``auto`` (3)
==================== ============================================================

``make labs`` resolves the profile once and hands it to the notebooks it runs as LABS_PROFILE,
with what was asked and why in LABS_PROFILE_ASKED and LABS_PROFILE_NOTE, so that every run card
of the run reads the same.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from pathlib import Path
from typing import Mapping

from . import course
from .profiles import MAX_LEARNING_RATE, PROFILES, SIZES, STANDINS, resolve_profile
from .setting_values import MAX_SEED as MAX_SEED  # re-exported: the seed bound tests and notebooks name
from .setting_values import choice, positive, ppo_batch, seed, unknown_variables, whole
from .standin.card import RUN_CARD_NOTES

KIT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = KIT_ROOT / "data"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a notebook needs to know about where and how it runs."""

    profile: str
    requested_profile: str
    profile_note: str
    model: str
    standin: str | None
    dataset: str
    seed: int
    device: str
    dtype: str
    autocast: str
    precision_note: str
    n_eval: int
    train_steps: int
    train_examples: int
    batch_size: int
    eval_batch_size: int
    max_new_tokens: int
    full_lr: float
    lora_lr: float
    ppo_steps: int
    ppo_lr: float
    ppo_batch_size: int
    cache_dir: Path
    run_dir: Path
    unknown: tuple[str, ...] = ()  # one sentence per LABS_* variable the kit does not read (a misspelt name?)
    threads_note: str = ""  # CPU threads and how they wait (threads.thread_note)

    @property
    def offline(self) -> bool:
        """True when the kit runs without the Hub (stand-in model, local data)."""
        return self.profile == "offline"

    @property
    def uses_standin(self) -> bool:
        """True when the model is the kit's locally built stand-in, not FLAN-T5."""
        return self.standin is not None

    @property
    def model_label(self) -> str:
        """A short name for this model in figure titles and prints (the run card says what it is, once)."""
        if self.standin == "instant":
            return "stand-in (random weights)"
        if self.standin == "pretrained":
            return "stand-in (pre-trained)"
        return self.model

    @property
    def model_description(self) -> str:
        """What this model is, in a few words: the run card's model line."""
        if self.standin == "instant":
            return "offline stand-in (random weights, not FLAN-T5)"
        if self.standin == "pretrained":
            return "offline stand-in (small T5 pre-trained locally, not FLAN-T5)"
        return self.model

    @property
    def torch_dtype(self):  # -> torch.dtype, imported lazily
        """The dtype as a torch object, for ``from_pretrained(dtype=...)``."""
        import torch

        return getattr(torch, self.dtype)

    def run_card(self) -> str:
        """The settings as a short text table, printed at the top of every notebook."""
        rows = [  # a row with an empty value is left out
            ("profile", f"{self.profile} (asked: {self.requested_profile})"),
            ("model", self.model_description),
            ("dataset", self.dataset),
            ("device / dtype", f"{self.device} / {self.dtype}"),
            ("precision", self.precision_note),
            ("CPU threads", self.threads_note),
            ("seed", str(self.seed)),
            ("eval dialogues", str(self.n_eval)),
            ("train steps / examples", f"{self.train_steps} / {self.train_examples}"),
            ("batch (train / eval)", f"{self.batch_size} / {self.eval_batch_size}"),
            ("max new tokens", str(self.max_new_tokens)),
            ("learning rate (full / LoRA)", f"{self.full_lr:g} / {self.lora_lr:g}"),
            ("PPO steps / batch / lr", f"{self.ppo_steps} / {self.ppo_batch_size} / {self.ppo_lr:g}"),
            ("run dir", str(self.run_dir)),
        ]
        rows = [(k, v) for k, v in rows if v]
        width = max(len(k) for k, _ in rows)
        lines = ["Run card"] + [f"  {k:<{width}}  {v}" for k, v in rows]
        if self.standin:
            lines += ["", RUN_CARD_NOTES[self.standin]]
        if self.profile_note:
            lines += ["", self.profile_note]
        if self.unknown:
            lines += ["", *self.unknown]
        return "\n".join(lines)


def _resolve_profile(env: Mapping[str, str], model: str) -> tuple[str, str]:
    """The profile asked for in ``env``, resolved: ``course`` or ``offline``, and why."""
    requested = choice(env, "LABS_PROFILE", PROFILES, "auto")
    if requested != "auto" and env.get("LABS_PROFILE_ASKED"):  # make labs resolved it: its answer, and why
        return requested, env.get("LABS_PROFILE_NOTE", "")
    return resolve_profile(requested, model, positive(env, "LABS_HUB_TIMEOUT", 3, most=600))


def _pick_device(env: Mapping[str, str]) -> str:
    from .device import pick_device

    return pick_device(env.get("LABS_DEVICE") or None)


def _local(value: str, base: Path, folder_only: bool = False) -> str:
    """``value`` made absolute against ``base`` when it names a path; a Hub id stays as it is."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    reads_as_path = value.startswith(".") or value.count("/") > 1 or (folder_only and "/" not in value)
    return str((base / path).resolve()) if reads_as_path or (base / path).exists() else value


def _absolute(env: Mapping[str, str], base: Path) -> dict[str, str]:
    """The path settings of ``env`` made absolute against ``base``, once, so every notebook reads them alike."""
    fixed = dict(env)
    if env.get("LABS_MODEL"):
        fixed["LABS_MODEL"] = _local(env["LABS_MODEL"], base)
    if env.get("LABS_DATASET"):
        fixed["LABS_DATASET"] = _local(env["LABS_DATASET"], base, folder_only=True)  # Hub datasets are owner/name
    for name in ("LABS_CACHE", "LABS_RUN_DIR"):
        if env.get(name):
            fixed[name] = str((base / Path(env[name]).expanduser()).resolve())
    return fixed


def make_settings(env: Mapping[str, str] | None = None, base: Path | None = None) -> Settings:
    """Build settings from ``env`` (default: ``os.environ``), relative paths against ``base`` (default: the cwd)."""
    from .device import pick_autocast, pick_dtype, precision_note

    env = _absolute(os.environ if env is None else env, Path.cwd() if base is None else Path(base))
    course_model = env.get("LABS_MODEL") or course.MODEL
    profile, note = _resolve_profile(env, course_model)

    model, standin, dataset = _model_and_data(env, profile, course_model)
    device = _pick_device(env)
    autocast = pick_autocast(device, env.get("LABS_AUTOCAST") or None)
    sizes = SIZES["course" if profile == "course" else standin or "instant"]
    return Settings(
        profile=profile,
        requested_profile=choice(env, "LABS_PROFILE_ASKED", PROFILES, env.get("LABS_PROFILE") or "auto"),
        profile_note=note,
        model=model,
        standin=standin,
        dataset=dataset,
        seed=seed(env),
        device=device,
        dtype=pick_dtype(device, env.get("LABS_DTYPE") or None),
        autocast=autocast,
        precision_note=precision_note(device, autocast),
        n_eval=whole(env, "LABS_N_EVAL", sizes["n_eval"]),
        train_steps=whole(env, "LABS_TRAIN_STEPS", sizes["train_steps"]),
        train_examples=whole(env, "LABS_TRAIN_EXAMPLES", sizes["train_examples"]),
        batch_size=whole(env, "LABS_BATCH_SIZE", sizes["batch_size"]),
        eval_batch_size=whole(env, "LABS_EVAL_BATCH_SIZE", sizes["eval_batch_size"]),
        max_new_tokens=whole(env, "LABS_MAX_NEW_TOKENS", sizes["max_new_tokens"]),
        full_lr=positive(env, "LABS_FULL_LR", sizes["full_lr"], most=MAX_LEARNING_RATE),
        lora_lr=positive(env, "LABS_LORA_LR", sizes["lora_lr"], most=MAX_LEARNING_RATE),
        ppo_steps=whole(env, "LABS_PPO_STEPS", sizes["ppo_steps"]),
        ppo_lr=positive(env, "LABS_PPO_LR", sizes["ppo_lr"], most=MAX_LEARNING_RATE),
        ppo_batch_size=ppo_batch(env, sizes["ppo_batch_size"]),
        cache_dir=Path(env.get("LABS_CACHE") or Path.home() / ".cache" / "labs-kit").expanduser(),
        run_dir=Path(env.get("LABS_RUN_DIR") or KIT_ROOT / "runs" / "interactive").expanduser(),
        unknown=unknown_variables(env),
        threads_note=_threads_note(env),
    )


def _model_and_data(env: Mapping[str, str], profile: str, course_model: str) -> tuple[str, str | None, str]:
    """(model, stand-in kind or None, dataset) for the resolved profile."""
    if profile == "course":
        return course_model, None, env.get("LABS_DATASET") or course.DATASET
    dataset = env.get("LABS_DATASET") or str(SAMPLE_DATA)
    if env.get("LABS_MODEL"):
        return env["LABS_MODEL"], None, dataset
    standin = choice(env, "LABS_STANDIN", STANDINS, "pretrained")
    return f"stand-in:{standin}", standin, dataset


def _threads_note(env: Mapping[str, str]) -> str:
    """torch's CPU thread count and the OpenMP wait policy in ``env`` (read by the runtime when torch loads)."""
    import torch

    from .threads import thread_note

    return thread_note(env, torch.get_num_threads())


def _go_offline() -> None:
    """Tell the Hugging Face libraries not to reach for the Hub (no 50-second retries)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True


# Deprecation notices the libraries raise at each other, not at the learner's code (peft calls
# transformers' deprecated is_gradient_checkpointing in get_peft_model and PeftModel.from_pretrained,
# cells that notebook 05 shows as the lab writes them): silenced by message, at the entry point.
LIBRARY_NOTICES = ((FutureWarning, r".*is_gradient_checkpointing.*"),)


def quiet_library_notices() -> None:
    """Ignore the warnings of ``LIBRARY_NOTICES`` in this process (every other warning still shows)."""
    for category, message in LIBRARY_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The kit's settings, made once per process from the environment: call it at an entry point only.

    Entry points (a notebook's first cell, ``make labs``, the training CLI) call this; everything
    below them takes the settings, or the values it needs, as arguments. When the run uses the
    model from the local cache or the stand-in, the Hugging Face libraries are told to stay offline.
    """
    settings = make_settings()
    quiet_library_notices()
    if settings.offline or settings.profile_note:  # offline, or the Hub did not answer
        _go_offline()
    return settings
