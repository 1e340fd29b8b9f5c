"""Fine-tuning FLAN-T5 on DialogSum (course Lab 2): the data path, the ``Trainer`` set-up, one call for both.

Notebooks 04 and 05 show the library calls themselves (``TrainingArguments``, ``Trainer``, ``LoraConfig``,
``PeftModel``); this module holds what they share with the command-line twin ``python -m labs_helpers.train``:
the lab's tokenize function, a ``FinetunePlan`` with the run's budgets, its ``TrainingArguments``, the losses.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import course
from .errors import LabsError
from .folder_lock import release
from .lora import add_lora
from .models import check_model
from .profiles import MAX_LEARNING_RATE
from .prompting import format_prompt, token_lengths
from .runs import (
    FINAL,
    find_checkpoint,
    interrupted,
    loss_table,
    on_main_process,
    resume_folder,
    stop_if_not_finite,
    training_folder,
)

if TYPE_CHECKING:
    import pandas as pd
    from datasets import Dataset, DatasetDict
    from transformers import (
        DataCollatorForSeq2Seq,
        PreTrainedModel,
        PreTrainedTokenizerBase,
        Trainer,
        TrainingArguments,
    )

    from .settings import Settings

KINDS = ("full", "lora")


@dataclasses.dataclass(frozen=True)
class FinetunePlan:
    """One fine-tuning run: which model, how much data, how long, and the optimizer's settings."""

    kind: str  # "full": every weight; "lora": a LoRA adapter
    model: str  # what from_pretrained loads
    learning_rate: float
    steps: int
    batch_size: int
    eval_batch_size: int
    train_examples: int
    eval_examples: int
    seed: int
    device: str = "cpu"
    bf16: bool = False  # autocast only: the weights stay fp32, so small updates are not lost
    weight_decay: float = 0.0
    gradient_accumulation: int = 1
    max_input_tokens: int = course.MAX_INPUT_TOKENS
    max_target_tokens: int = course.MAX_TARGET_TOKENS
    lora: dict = dataclasses.field(default_factory=lambda: dict(course.LORA))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LabsError(f"Unknown kind {self.kind!r}: use 'full' (every weight) or 'lora' (a LoRA adapter).")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= MAX_LEARNING_RATE):
            raise LabsError(
                f"learning_rate={self.learning_rate}: use a number above 0 and at most {MAX_LEARNING_RATE:g} "
                f"(the lab's: full {course.FULL_LEARNING_RATE:g}, LoRA {course.LORA_LEARNING_RATE:g})."
            )

    @classmethod
    def from_settings(cls, kind: str, settings: Settings, model: str, **overrides: Any) -> FinetunePlan:
        """The notebooks' plan: budgets and learning rates from ``settings``, the lab's weight decay."""
        full = kind == "full"
        values: dict[str, Any] = dict(
            kind=kind,
            model=model,
            learning_rate=settings.full_lr if full else settings.lora_lr,
            weight_decay=course.FULL_WEIGHT_DECAY if full else 0.0,
            steps=settings.train_steps,
            batch_size=settings.batch_size,
            eval_batch_size=settings.eval_batch_size,
            train_examples=settings.train_examples,
            eval_examples=validation_budget(settings.n_eval),
            seed=settings.seed,
            device=settings.device,
            bf16=settings.autocast == "bfloat16",
        )
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


MAX_VALIDATION = 100  # a loss averaged over 100 examples draws the curve; 500 cost a third of training's time


def validation_budget(n_eval: int) -> int:
    """Validation examples scored during training: 10 per evaluated test dialogue, at most ``MAX_VALIDATION``."""
    return min(10 * n_eval, MAX_VALIDATION)


def tokenize_function(
    tokenizer: PreTrainedTokenizerBase,
    max_input_tokens: int = course.MAX_INPUT_TOKENS,
    max_target_tokens: int = course.MAX_TARGET_TOKENS,
) -> Callable[[dict], dict]:
    """The lab's tokenize function for ``Dataset.map(batched=True)``, without padding (the collator pads)."""

    def tokenize(batch: dict) -> dict:
        prompts = [format_prompt("finetune", dialogue) for dialogue in batch["dialogue"]]
        encoded = tokenizer(prompts, truncation=True, max_length=max_input_tokens)
        encoded["labels"] = tokenizer(text_target=batch["summary"], truncation=True, max_length=max_target_tokens)[
            "input_ids"
        ]
        return encoded

    return tokenize


def truncation_report(
    split: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_input_tokens: int = course.MAX_INPUT_TOKENS,
    max_target_tokens: int = course.MAX_TARGET_TOKENS,
) -> dict[str, int]:
    """How many prompts and summaries of ``split`` are longer than the limits (and so get cut)."""
    prompts = [format_prompt("finetune", d) for d in split["dialogue"]]
    inputs = token_lengths(tokenizer, prompts)
    targets = [len(ids) for ids in tokenizer(text_target=list(split["summary"]), verbose=False)["input_ids"]]
    return {
        "examples": len(inputs),
        "inputs_truncated": sum(n > max_input_tokens for n in inputs),
        "targets_truncated": sum(n > max_target_tokens for n in targets),
        "longest_input": max(inputs, default=0),
        "longest_target": max(targets, default=0),
    }


def prepare_data(
    dataset: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    train_examples: int,
    eval_examples: int,
    max_input_tokens: int = course.MAX_INPUT_TOKENS,
    max_target_tokens: int = course.MAX_TARGET_TOKENS,
) -> DatasetDict:
    """Tokenized ``train`` (its first ``train_examples`` rows) and ``validation`` slices, no padding."""
    from datasets import DatasetDict

    if train_examples < 1 or eval_examples < 1:
        raise LabsError(f"train_examples={train_examples}, eval_examples={eval_examples}: use 1 or more of each.")
    parts = {
        "train": dataset["train"].select(range(min(train_examples, len(dataset["train"])))),
        "validation": dataset["validation"].select(range(min(eval_examples, len(dataset["validation"])))),
    }
    tokenize = tokenize_function(tokenizer, max_input_tokens, max_target_tokens)
    return DatasetDict(
        {name: part.map(tokenize, batched=True, remove_columns=part.column_names) for name, part in parts.items()}
    )


def make_collator(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> DataCollatorForSeq2Seq:
    """Dynamic padding per batch; label padding is -100 so the loss ignores it."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)


def schedule(steps: int) -> dict[str, int]:
    """How often to log, evaluate and save in a run of ``steps`` optimizer steps."""
    return {"logging_steps": max(1, steps // 20), "eval_steps": max(1, steps // 4), "save_steps": max(1, steps // 2)}


def training_arguments(output_dir: str | Path, plan: FinetunePlan) -> TrainingArguments:
    """The kit's ``TrainingArguments`` for ``plan``: its budgets, seed, device and precision."""
    from transformers import TrainingArguments

    every = schedule(plan.steps)
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=plan.learning_rate,
        weight_decay=plan.weight_decay,
        max_steps=plan.steps,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.eval_batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation,
        train_sampling_strategy="group_by_length",  # batches of similar lengths: less padding, faster steps
        eval_strategy="steps",
        eval_steps=every["eval_steps"],
        logging_steps=every["logging_steps"],
        save_strategy="steps",
        save_steps=every["save_steps"],
        save_total_limit=2,
        bf16=plan.bf16,
        use_cpu=plan.device == "cpu",
        dataloader_pin_memory=plan.device.startswith("cuda"),
        seed=plan.seed,
        data_seed=plan.seed,
        report_to="none",
        logging_nan_inf_filter=False,  # log a NaN loss as NaN (the filter reports it as 0.0), so it is caught
        disable_tqdm=True,  # no bar, whatever TRANSFORMERS_VERBOSITY says: runs.loss_table prints the losses
    )


def loss_history(trainer_or_state: Any) -> pd.DataFrame:
    """Training and validation loss by step, from a ``Trainer`` or its ``state`` (a DataFrame)."""
    import pandas as pd

    state = getattr(trainer_or_state, "state", trainer_or_state)
    rows: dict[int, dict[str, float]] = {}
    for entry in state.log_history:
        if "loss" in entry:
            rows.setdefault(entry["step"], {})["train_loss"] = float(entry["loss"])
        if "eval_loss" in entry:
            rows.setdefault(entry["step"], {})["eval_loss"] = float(entry["eval_loss"])
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["train_loss", "eval_loss"]).sort_index()
    frame.index.name = "step"
    return frame


def loss_fell(history: pd.DataFrame, window: int = 3) -> bool:
    """True when the mean of the last ``window`` training losses is below the mean of the first."""
    losses = history["train_loss"].dropna().tolist()
    if len(losses) < 2:
        raise LabsError(f"Only {len(losses)} logged training loss(es): train for more steps to see a trend.")
    window = min(window, len(losses) // 2)
    return sum(losses[-window:]) / window < sum(losses[:window]) / window


@dataclasses.dataclass
class TrainOutcome:
    """What ``finetune`` leaves behind."""

    output_dir: Path
    final_dir: Path
    history: Any  # pandas DataFrame
    trainer: Trainer
    started_from: str | None = None  # the checkpoint a resumed run continued from


def finetune(
    plan: FinetunePlan,
    dataset: DatasetDict,
    output_dir: str | Path | None = None,
    runs_parent: str | Path | None = None,
    resume: str | Path | None = None,
    callbacks: Sequence = (),
) -> TrainOutcome:
    """Train as notebooks 04/05 do and save ``final/``; a new ``<runs_parent>/<kind>-NNN`` unless ``output_dir``."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, PrinterCallback, set_seed

    checkpoint = find_checkpoint(resume) if resume is not None else None
    own_folder = resume_folder(checkpoint, output_dir) if checkpoint is not None else None  # refuse before loading
    check_model(plan.model, "model")
    set_seed(plan.seed)
    tokenizer = AutoTokenizer.from_pretrained(plan.model)
    model = AutoModelForSeq2SeqLM.from_pretrained(plan.model, dtype="float32")
    if plan.kind == "lora":
        model = add_lora(model, course.lora_config(**plan.lora))
    # The folder comes last, so that bad options above leave no empty run behind; the main process makes it.
    where = (plan.kind, own_folder, output_dir, runs_parent, checkpoint)
    folder = on_main_process(lambda: training_folder(*where), plan.device == "cpu")
    trainer = None
    try:
        trainer = _trainer(plan, dataset, tokenizer, model, folder, callbacks)
        trainer.remove_callback(PrinterCallback)  # a raw dict per log; loss_table prints a line per evaluation
        trainer.train(resume_from_checkpoint=checkpoint)
        final = Path(folder) / FINAL
        trainer.save_model(str(final))  # the main process writes: model (full) or adapter (LoRA) + tokenizer
    except KeyboardInterrupt:  # Ctrl-C: one sentence with the step and how to continue, not a traceback
        raise interrupted(trainer.state.global_step if trainer else 0, plan.steps, Path(folder)) from None
    finally:
        release(folder)
    return TrainOutcome(Path(folder), final, loss_history(trainer), trainer, checkpoint)


def _trainer(
    plan: FinetunePlan, dataset: DatasetDict, tokenizer: Any, model: Any, folder: Path, callbacks: Sequence
) -> Trainer:
    """The ``Trainer`` of ``plan`` on ``dataset``'s slices, writing into ``folder``."""
    from transformers import Trainer

    data = prepare_data(
        dataset, tokenizer, plan.train_examples, plan.eval_examples, plan.max_input_tokens, plan.max_target_tokens
    )
    return Trainer(
        model=model,
        args=training_arguments(folder, plan),
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        data_collator=make_collator(tokenizer, model),
        processing_class=tokenizer,
        callbacks=[stop_if_not_finite(), loss_table(), *callbacks],  # a NaN run stops before final/ is saved
    )
