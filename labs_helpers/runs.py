"""Run folders that are never overwritten, checkpoints to resume from, a guard against NaN, a simulated crash."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Callable

from .errors import LabsError
from .folder_lock import claim, discard_if_empty, holds_files, owned_elsewhere, release

FINAL = "final"  # sub-folder of a run where the finished model (or adapter) is saved
STARTED_FROM = "started_from.json"  # in a run that continues a finished one: which run and checkpoint
_WEIGHTS = (
    "model.safetensors",
    "pytorch_model.bin",
    "adapter_model.safetensors",
    "adapter_model.bin",
    "model.safetensors.index.json",
)


def new_run_folder(parent: str | Path, name: str = "run", stamped: bool = False) -> Path:
    """Create and return a folder in ``parent`` that no run has used: ``<name>-NNN``, the first number not
    taken; or, for a run named by its start time (``stamped``), ``<name>`` itself, then ``<name>-2``, ``-3``..."""
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        pattern = re.escape(name) + (r"-(\d+)" if not stamped else r"(?:-(\d+))?")
        taken = [int(m.group(1) or 1) for p in parent.iterdir() if (m := re.fullmatch(pattern, p.name))]
        number = max(taken, default=0) + 1
        while True:
            folder = parent / (f"{name}-{number:03d}" if not stamped else name if number == 1 else f"{name}-{number}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:  # another process took it first
                number += 1
    except PermissionError as error:
        raise LabsError(
            f"Cannot write to {parent} ({error.strerror}). Choose a folder you can write to "
            "(--output-dir, or LABS_RUN_DIR for the notebooks)."
        ) from error
    except OSError as error:
        raise LabsError(
            f"Cannot create a run folder in {parent} ({error.strerror or error}). "
            "Choose a folder you can write to (--output-dir, or LABS_RUN_DIR)."
        ) from error


def check_output_dir(folder: str | Path, resume: bool = False, resumable: bool = True) -> Path:
    """``folder``, owned by this process, if training may write there: writable, not another process's, and
    empty unless resuming (never overwritten). ``resumable``: whether the refusal may suggest --resume."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LabsError(f"{folder} is a file, not a folder. Choose another --output-dir.")
    if not resume and holds_files(folder):
        if owned_elsewhere(folder):
            claim(folder)  # raises: the one message that names the run writing there
        fix = "pass --resume to continue it, or choose" if resumable else "choose"
        raise LabsError(
            f"{folder} already holds files (an earlier run?). The kit never overwrites a run: {fix} "
            "a new --output-dir (or leave it out for a fresh one)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        claim(folder)  # from here on no other process writes here; the probe below is this run's own
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        release(folder)
        raise LabsError(
            f"Cannot write to {folder} ({error.strerror or error}). Choose a folder you can write to with --output-dir."
        ) from error
    if not resume and holds_files(folder):  # another run wrote there between the check above and the claim
        release(folder)
        return check_output_dir(folder, resume, resumable)
    return folder


def is_finished(folder: str | Path) -> bool:
    """True when the run in ``folder`` saved its ``final/``: a finished run, which the kit never changes again."""
    return (Path(folder) / FINAL).exists()


def is_checkpoint(folder: Path) -> bool:
    """True when ``folder`` holds a Trainer checkpoint: its state and model or adapter weights."""
    return (folder / "trainer_state.json").is_file() and any((folder / w).is_file() for w in _WEIGHTS)


def find_checkpoint(path: str | Path) -> str:
    """The checkpoint to resume from: ``path`` itself, or the latest ``checkpoint-N`` inside a run folder."""
    path = Path(path)
    if path.is_dir() and is_checkpoint(path):
        return str(path)
    found = []
    if path.is_dir():
        found = [p for p in path.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and is_checkpoint(p)]
    if found:
        return str(max(found, key=lambda p: int(p.name.split("-")[-1])))
    raise LabsError(
        f"{path} is not a checkpoint: expected a folder with trainer_state.json and model or adapter "
        "weights (a checkpoint-N folder), or a run folder that holds checkpoint-N folders. "
        "Point --resume at one of those, or leave --resume out to start afresh."
    )


def resume_folder(checkpoint: str | Path, output_dir: str | Path | None = None) -> Path:
    """The folder a resumed run writes into: the run that holds ``checkpoint``, never another one."""
    own = Path(checkpoint).resolve().parent
    if output_dir is not None and Path(output_dir).expanduser().resolve() != own:
        raise LabsError(
            f"--resume {checkpoint} continues the run in {own}, but --output-dir is {output_dir}: a resumed run "
            "writes only into its own folder. Leave --output-dir out, or set it to that run's folder."
        )
    return own


def training_folder(
    kind: str,
    resumed: Path | None,
    output_dir: str | Path | None,
    runs_parent: str | Path | None,
    checkpoint: str | None = None,
) -> Path:
    """The folder a run writes into, owned by this process: the resumed run's (a new one beside it when that run
    is finished), ``output_dir`` (new or empty), or a new numbered one in ``runs_parent``."""
    if resumed is not None and is_finished(resumed):
        folder = claim(new_run_folder(resumed.parent, f"{resumed.name}-continued"))
        (folder / STARTED_FROM).write_text(json.dumps({"run": str(resumed), "checkpoint": str(checkpoint)}, indent=2))
        print(
            f"{resumed} is finished (it has {FINAL}/), and a finished run is never changed: continuing from "
            f"{checkpoint} in a new run, {folder}.",
            file=sys.stderr,
        )
        return folder
    if resumed is not None:
        return check_output_dir(resumed, resume=True)
    if output_dir is not None:
        return check_output_dir(output_dir)
    if runs_parent is not None:
        return claim(new_run_folder(runs_parent, kind))
    raise LabsError("finetune needs an output_dir or a runs_parent to create the run folder in.")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, as one sentence: the step it stopped at and how to continue."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def interrupted(step: int, steps: int, folder: Path) -> Interrupted:
    """The ``Interrupted`` for a Trainer run stopped at ``step`` of ``steps``: resume from its latest checkpoint."""
    try:
        latest = Path(find_checkpoint(folder)).name
    except LabsError:
        discard_if_empty(folder)
        return Interrupted(
            f"Interrupted at step {step} of {steps}, before the first checkpoint: nothing to resume, so run "
            "the command again for a fresh run."
        )
    return Interrupted(
        f"Interrupted at step {step} of {steps}; {folder} keeps {latest}. To continue, run the same command "
        f"with --output-dir {folder} --resume."
    )


def on_main_process(decide: Callable[[], Path], cpu: bool) -> Path:
    """``decide()`` on the main process only, its answer (or its LabsError) shared with every process of a launch.

    Under torchrun or accelerate launch every process runs the same code; a run folder must be made once.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return decide()
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState(cpu=cpu)
    answer: list = [None]
    if state.is_main_process:
        try:
            answer[0] = ("ok", decide())
        except LabsError as error:
            answer[0] = ("error", str(error))
    broadcast_object_list(answer, from_process=0)
    outcome, value = answer[0]
    if outcome == "error":
        raise LabsError(value)
    return value


def latest_final(parent: str | Path, base: str | Path | None = None) -> Path | None:
    """The ``final`` model folder of the newest finished run under ``parent`` (trained from ``base``), or None.

    With ``base`` a local model folder, a run whose tokenizer differs from the base's (another
    dataset's stand-in, say) is passed over: its vocabulary would not fit this run's model.
    """
    finals = [
        p / FINAL
        for p in Path(parent).glob("*-[0-9][0-9][0-9]")
        if ((p / FINAL / "config.json").is_file() or (p / FINAL / "adapter_config.json").is_file())
        and _same_tokenizer(p / FINAL, base)
    ]
    return max(finals, key=lambda p: p.parent.name, default=None)


def _same_tokenizer(folder: Path, base: str | Path | None) -> bool:
    """True unless ``base`` is a local folder whose tokenizer.json differs from ``folder``'s."""
    theirs = Path(base) / "tokenizer.json" if base is not None else None
    if theirs is None or not theirs.is_file():
        return True
    ours = folder / "tokenizer.json"
    # The vocabulary decides whether a model fits; saving again may change padding or truncation fields.
    return ours.is_file() and _vocabulary(ours) == _vocabulary(theirs)


def _vocabulary(tokenizer_json: Path) -> object:
    """The ``model`` section (type and vocabulary) of a tokenizer.json, or None when it is unreadable."""
    try:
        return json.loads(tokenizer_json.read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None


class SimulatedInterruption(RuntimeError):
    """Raised by ``interrupt_after`` to stop training as a crash or a lost machine would."""


def interrupt_after(step: int):
    """A ``TrainerCallback`` that stops training abruptly once the checkpoint of ``step`` is written."""
    from transformers import TrainerCallback

    class InterruptAfter(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step >= step:
                raise SimulatedInterruption(f"training interrupted after the checkpoint of step {state.global_step}")

    return InterruptAfter()


def loss_table():
    """A ``TrainerCallback`` that prints one short line per evaluation: step, training and validation loss."""
    from transformers import TrainerCallback

    class LossTable(TrainerCallback):  # the full log stays in trainer.state.log_history
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            train = next((e["loss"] for e in reversed(state.log_history) if "loss" in e), float("nan"))
            print(
                f"step {state.global_step:>5} of {state.max_steps}: training loss {train:.4f}, "
                f"validation loss {(metrics or {}).get('eval_loss', float('nan')):.4f}"
            )

    return LossTable()


def stop_if_not_finite():
    """A ``TrainerCallback`` that stops training with a LabsError once a loss or a trained weight is not finite."""
    from transformers import TrainerCallback

    def stop(what: str, step: int, args) -> None:
        raise LabsError(
            f"Training stopped at step {step}: {what} is not finite (learning rate {args.learning_rate:g} too high?), "
            "so nothing was saved as final/. Lower the learning rate (--lr, LABS_FULL_LR or LABS_LORA_LR) "
            "and start a new run."
        )

    class StopIfNotFinite(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "eval_loss"):
                value = (logs or {}).get(key)
                if value is not None and not math.isfinite(float(value)):
                    stop(f"the {key.replace('_', ' ')} ({value})", state.global_step, args)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            import torch

            trained = [p for p in model.parameters() if p.requires_grad] if model is not None else []
            # One device sync per step: a flag per tensor, stacked (a per-tensor bool() would sync each time).
            if trained and not bool(torch.stack([torch.isfinite(p).all() for p in trained]).all()):
                stop("a weight", state.global_step, args)

    return StopIfNotFinite()
