"""Fine-tuning FLAN-T5 on DialogSum (course Lab 2): data, Trainer set-up, LoRA, checkpoints, int8.

The notebooks 04 and 05 show the library calls themselves (``TrainingArguments``, ``Trainer``,
``LoraConfig``, ``PeftModel``); this module holds what they share with the command-line twin
``python -m labs_helpers.train``: the lab's tokenize function, budgets from the settings, run
folders that are never overwritten, checkpoint look-up, loss curves, and the int8 export.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import LabsError
from .prompts import format_prompt

MAX_INPUT_TOKENS = 512  # FLAN-T5's model_max_length; the lab pads and truncates to it
MAX_TARGET_TOKENS = 128  # DialogSum summaries are short; longer ones are counted as truncated
# Lab 2's hyper-parameters; its learning rates (1e-5 full, 1e-3 LoRA) live in the settings, as
# full_lr / lora_lr, because the offline stand-in needs others.
LAB_FULL = dict(weight_decay=0.01)  # Lab 2, full fine-tuning
LAB_LORA = dict(r=32, lora_alpha=32, target_modules=["q", "v"], lora_dropout=0.05, bias="none")
FINAL = "final"  # sub-folder of a run where the finished model (or adapter) is saved


# --- data ---------------------------------------------------------------------------------

def tokenize_function(tokenizer, max_input_tokens: int = MAX_INPUT_TOKENS,
                      max_target_tokens: int = MAX_TARGET_TOKENS) -> Callable[[dict], dict]:
    """The lab's tokenize function for ``Dataset.map(batched=True)``, without padding (the collator pads)."""

    def tokenize(batch: dict) -> dict:
        prompts = [format_prompt("finetune", dialogue) for dialogue in batch["dialogue"]]
        encoded = tokenizer(prompts, truncation=True, max_length=max_input_tokens)
        encoded["labels"] = tokenizer(text_target=batch["summary"], truncation=True,
                                      max_length=max_target_tokens)["input_ids"]
        return encoded

    return tokenize


def truncation_report(split, tokenizer, max_input_tokens: int = MAX_INPUT_TOKENS,
                      max_target_tokens: int = MAX_TARGET_TOKENS) -> dict[str, int]:
    """How many prompts and summaries of ``split`` are longer than the limits (and so get cut)."""
    prompts = [format_prompt("finetune", d) for d in split["dialogue"]]
    inputs = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    targets = [len(ids) for ids in tokenizer(text_target=list(split["summary"]))["input_ids"]]
    return {
        "examples": len(inputs),
        "inputs_truncated": sum(n > max_input_tokens for n in inputs),
        "targets_truncated": sum(n > max_target_tokens for n in targets),
        "longest_input": max(inputs, default=0),
        "longest_target": max(targets, default=0),
    }


def validation_budget(settings) -> int:
    """Validation examples scored during training: 10 per evaluated test dialogue (60 offline, 500 course)."""
    return 10 * settings.n_eval


def prepare_data(dataset, tokenizer, train_examples: int, eval_examples: int,
                 max_input_tokens: int = MAX_INPUT_TOKENS, max_target_tokens: int = MAX_TARGET_TOKENS):
    """Tokenized ``train`` (its first ``train_examples`` rows) and ``validation`` slices, no padding."""
    from datasets import DatasetDict

    if train_examples < 1 or eval_examples < 1:
        raise LabsError(f"train_examples={train_examples}, eval_examples={eval_examples}: use 1 or more of each.")
    parts = {
        "train": dataset["train"].select(range(min(train_examples, len(dataset["train"])))),
        "validation": dataset["validation"].select(range(min(eval_examples, len(dataset["validation"])))),
    }
    tokenize = tokenize_function(tokenizer, max_input_tokens, max_target_tokens)
    return DatasetDict({name: part.map(tokenize, batched=True, remove_columns=part.column_names)
                        for name, part in parts.items()})


def make_collator(tokenizer, model):
    """Dynamic padding per batch; label padding is -100 so the loss ignores it."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)


# --- run folders and checkpoints ------------------------------------------------------------

def new_run_folder(parent: str | Path, name: str = "run") -> Path:
    """Create and return ``parent/<name>-NNN``, the first number not taken: no run is ever overwritten."""
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        taken = [int(m.group(1)) for p in parent.iterdir() if (m := re.fullmatch(re.escape(name) + r"-(\d+)", p.name))]
        number = max(taken, default=0) + 1
        while True:
            folder = parent / f"{name}-{number:03d}"
            try:
                folder.mkdir()
                return folder
            except FileExistsError:  # another process took it first
                number += 1
    except PermissionError as error:
        raise LabsError(f"Cannot write to {parent} ({error.strerror}). Choose a folder you can write to "
                        "(--output-dir, or LABS_RUN_DIR for the notebooks).") from error
    except OSError as error:
        raise LabsError(f"Cannot create a run folder in {parent} ({error.strerror or error}). "
                        "Choose a folder you can write to (--output-dir, or LABS_RUN_DIR).") from error


def check_output_dir(folder: str | Path, resume: bool = False) -> Path:
    """``folder`` if training may write there: writable, and empty unless resuming (never overwritten)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LabsError(f"{folder} is a file, not a folder. Choose another --output-dir.")
    if folder.is_dir() and any(folder.iterdir()) and not resume:
        raise LabsError(f"{folder} already holds files (an earlier run?). The kit never overwrites a run: pass "
                        "--resume to continue it, or choose a new --output-dir (or leave it out for a fresh one).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise LabsError(f"Cannot write to {folder} ({error.strerror or error}). "
                        "Choose a folder you can write to with --output-dir.") from error
    return folder


def _is_checkpoint(folder: Path) -> bool:
    weights = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin",
               "model.safetensors.index.json")
    return (folder / "trainer_state.json").is_file() and any((folder / w).is_file() for w in weights)


def find_checkpoint(path: str | Path) -> str:
    """The checkpoint to resume from: ``path`` itself, or the latest ``checkpoint-N`` inside a run folder."""
    path = Path(path)
    if path.is_dir() and _is_checkpoint(path):
        return str(path)
    found = sorted((p for p in path.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and _is_checkpoint(p)),
                   key=lambda p: int(p.name.split("-")[-1])) if path.is_dir() else []
    if found:
        return str(found[-1])
    raise LabsError(f"{path} is not a checkpoint: expected a folder with trainer_state.json and model or adapter "
                    "weights (a checkpoint-N folder), or a run folder that holds checkpoint-N folders. "
                    "Point --resume at one of those, or leave --resume out to start afresh.")


def latest_final(parent: str | Path) -> Path | None:
    """The ``final`` model folder of the newest finished run under ``parent``, or None."""
    finals = [p / FINAL for p in Path(parent).glob("*-[0-9][0-9][0-9]") if (p / FINAL / "config.json").is_file()
              or (p / FINAL / "adapter_config.json").is_file()]
    return max(finals, key=lambda p: p.parent.name, default=None)


class SimulatedInterruption(RuntimeError):
    """Raised by ``InterruptAfter`` to stop training as a crash or a lost machine would."""


def interrupt_after(step: int):
    """A ``TrainerCallback`` that stops training abruptly once the checkpoint of ``step`` is written."""
    from transformers import TrainerCallback

    class InterruptAfter(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step >= step:
                raise SimulatedInterruption(f"training interrupted after the checkpoint of step {state.global_step}")

    return InterruptAfter()


# --- Trainer set-up -------------------------------------------------------------------------

def schedule(steps: int) -> dict[str, int]:
    """How often to log, evaluate and save in a run of ``steps`` optimizer steps."""
    return {"logging_steps": max(1, steps // 20), "eval_steps": max(1, steps // 4), "save_steps": max(1, steps // 2)}


def training_arguments(output_dir: str | Path, settings, learning_rate: float, weight_decay: float = 0.0,
                       steps: int | None = None, batch_size: int | None = None, bf16: bool | None = None,
                       **overrides: Any):
    """``TrainingArguments`` with the budgets of ``settings``: steps, batch sizes, seed, device, precision."""
    from transformers import TrainingArguments

    steps = steps or settings.train_steps
    every = schedule(steps)
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir), learning_rate=learning_rate, weight_decay=weight_decay, max_steps=steps,
        per_device_train_batch_size=batch_size or settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size,
        eval_strategy="steps", eval_steps=every["eval_steps"], logging_steps=every["logging_steps"],
        save_strategy="steps", save_steps=every["save_steps"], save_total_limit=2,
        seed=settings.seed, data_seed=settings.seed, report_to="none",
        bf16=settings.dtype == "bfloat16" if bf16 is None else bf16,
        use_cpu=settings.device == "cpu", dataloader_pin_memory=settings.device.startswith("cuda"),
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def loss_history(state) -> "Any":
    """Training and validation loss by step, from a ``Trainer`` or its ``state`` (a DataFrame)."""
    import pandas as pd

    state = getattr(state, "state", state)
    rows: dict[int, dict[str, float]] = {}
    for entry in state.log_history:
        if "loss" in entry:
            rows.setdefault(entry["step"], {})["train_loss"] = float(entry["loss"])
        if "eval_loss" in entry:
            rows.setdefault(entry["step"], {})["eval_loss"] = float(entry["eval_loss"])
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["train_loss", "eval_loss"]).sort_index()
    frame.index.name = "step"
    return frame


def loss_fell(history, window: int = 3) -> bool:
    """True when the mean of the last ``window`` training losses is below the mean of the first."""
    losses = history["train_loss"].dropna().tolist()
    if len(losses) < 2:
        raise LabsError(f"Only {len(losses)} logged training loss(es): train for more steps to see a trend.")
    window = min(window, len(losses) // 2)
    return sum(losses[-window:]) / window < sum(losses[:window]) / window


def plot_losses(history, title: str = "loss"):
    """Training and validation loss against the step; returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 3.5))
    train = history["train_loss"].dropna()
    evals = history["eval_loss"].dropna()
    ax.plot(train.index, train.values, label="training loss")
    if len(evals):
        ax.plot(evals.index, evals.values, "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title)
    ax.legend()
    return ax


# --- parameters and LoRA --------------------------------------------------------------------

def count_parameters(model) -> tuple[int, int]:
    """(trainable, all) parameter counts, as the lab's ``print_number_of_trainable_model_parameters``."""
    trainable = total = 0
    for _, param in model.named_parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total


def describe_parameters(model) -> str:
    """The lab's three-line printout of trainable parameters."""
    trainable, total = count_parameters(model)
    return (f"trainable model parameters: {trainable}\nall model parameters: {total}\n"
            f"percentage of trainable model parameters: {100 * trainable / total:.2f}%")


def module_names(model) -> list[str]:
    """The distinct last components of the model's Linear module names (what ``target_modules`` matches)."""
    import torch

    return sorted({name.split(".")[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear)})


def check_lora_config(model, config) -> None:
    """One clear error for an r or alpha that is not positive, or a target module the model lacks."""
    if not isinstance(config.r, int) or config.r <= 0:
        raise LabsError(f"LoraConfig(r={config.r!r}): the rank r must be a whole number of 1 or more "
                        "(the lab uses r=32; small values such as 8 or 16 also work).")
    if config.lora_alpha <= 0:
        raise LabsError(f"LoraConfig(lora_alpha={config.lora_alpha!r}): use a positive value (the lab uses 32).")
    targets = config.target_modules
    if isinstance(targets, str):  # a regular expression: let PEFT match it, but it must match something
        if not any(re.fullmatch(targets, name) for name, _ in model.named_modules()):
            raise LabsError(f"LoraConfig(target_modules={targets!r}) matches no module of {type(model).__name__}. "
                            f"Its Linear layers are named {', '.join(module_names(model))}.")
        return
    available = set(module_names(model))
    missing = sorted(t for t in targets or [] if t.split(".")[-1] not in available)
    if missing:
        raise LabsError(f"LoraConfig(target_modules=...): {type(model).__name__} has no module named "
                        f"{', '.join(repr(m) for m in missing)}. Its Linear layers are named "
                        f"{', '.join(module_names(model))} (T5 attention: q, k, v, o).")


def add_lora(model, config):
    """``get_peft_model(model, config)`` after ``check_lora_config``."""
    from peft import get_peft_model

    check_lora_config(model, config)
    return get_peft_model(model, config)


# --- sizes and int8 export ------------------------------------------------------------------

def size_on_disk(path: str | Path) -> int:
    """Bytes taken by a file, or by all files under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def format_bytes(n: int) -> str:
    """A byte count as a short human-readable string (KB, MB, GB; powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def quantize_int8(model):
    """A CPU copy of ``model`` with every ``nn.Linear`` dynamically quantized to int8 weights."""
    import copy

    import torch

    cpu_copy = copy.deepcopy(model).to("cpu", dtype=torch.float32).eval()
    return torch.ao.quantization.quantize_dynamic(cpu_copy, {torch.nn.Linear}, dtype=torch.qint8)


def state_dict_bytes(model, path: str | Path | None = None) -> int:
    """Size of ``torch.save(model.state_dict())``; written to ``path`` when given, else measured in memory."""
    import torch

    if path is None:
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        return buffer.tell()
    torch.save(model.state_dict(), path)
    return Path(path).stat().st_size


# --- one call for the script twin -----------------------------------------------------------

@dataclasses.dataclass
class TrainOutcome:
    """What ``finetune`` leaves behind."""

    output_dir: Path
    final_dir: Path
    history: Any
    trainer: Any


def finetune(kind: str, settings, output_dir: str | Path | None = None, *, model_name: str | None = None,
             dataset=None, steps: int | None = None, train_examples: int | None = None,
             batch_size: int | None = None, learning_rate: float | None = None, weight_decay: float | None = None,
             eval_examples: int | None = None, lora: dict | None = None, bf16: bool | None = None,
             resume: str | Path | None = None, max_input_tokens: int = MAX_INPUT_TOKENS,
             callbacks: Sequence = (), **argument_overrides: Any) -> TrainOutcome:
    """Full (``kind="full"``) or LoRA (``"lora"``) fine-tuning as in notebooks 04/05; saves ``final/``."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, Trainer, set_seed

    from .data import load_dialogsum
    from .standin import resolve_model

    if kind not in ("full", "lora"):
        raise LabsError(f"Unknown kind {kind!r}: use 'full' (every weight) or 'lora' (a LoRA adapter).")
    checkpoint = find_checkpoint(resume) if resume is not None else None
    dataset = dataset if dataset is not None else load_dialogsum(settings.dataset)
    model_name = model_name or resolve_model(settings, dataset)
    set_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    # Weights stay in fp32 for training; bf16 (when asked) is autocast, so small updates are not lost.
    model = AutoModelForSeq2SeqLM.from_pretrained(model_name, dtype=torch.float32)
    # Learning rates come from settings: the lab's on the course profile, larger for the small stand-in.
    default_lr, default_decay = ((settings.full_lr, LAB_FULL["weight_decay"]) if kind == "full"
                                 else (settings.lora_lr, 0.0))
    if kind == "lora":
        from peft import LoraConfig, TaskType

        options = LAB_LORA | dict(lora or {})
        model = add_lora(model, LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, **options))
    # The folder comes last, so that bad options above leave no empty run behind.
    if checkpoint is not None:
        folder = check_output_dir(output_dir if output_dir is not None else Path(checkpoint).parent, resume=True)
    elif output_dir is not None:
        folder = check_output_dir(output_dir)
    else:
        folder = new_run_folder(Path(settings.run_dir) / "train", kind)
    data = prepare_data(dataset, tokenizer, train_examples or settings.train_examples,
                        eval_examples or validation_budget(settings),
                        max_input_tokens=max_input_tokens)
    args = training_arguments(
        folder, settings, learning_rate=learning_rate if learning_rate is not None else default_lr,
        weight_decay=weight_decay if weight_decay is not None else default_decay,
        steps=steps, batch_size=batch_size, bf16=bf16, **argument_overrides)
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
                      data_collator=make_collator(tokenizer, model), processing_class=tokenizer,
                      callbacks=list(callbacks))
    trainer.train(resume_from_checkpoint=checkpoint)
    final = Path(folder) / FINAL
    trainer.save_model(str(final))  # the main process writes: model (full) or adapter (LoRA) + tokenizer
    return TrainOutcome(Path(folder), final, loss_history(trainer), trainer)
