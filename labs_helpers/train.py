"""Fine-tune from the command line: the script twin of notebooks 04 (full), 05 (LoRA) and 06 (PPO).

    python -m labs_helpers.train full [options]        # one CPU, GPU or Mac
    python -m labs_helpers.train lora --r 16 [options]
    python -m labs_helpers.train ppo --adapter runs/.../adapter --steps 10 [options]
    python -m labs_helpers.train dpo --beta 0.1 [options]     # DPO on notebook 06's slice
    accelerate launch -m labs_helpers.train full ...   # several GPUs or machines
    torchrun --nproc_per_node 4 -m labs_helpers.train full ...

Model, data, seed, device and budgets come from the kit's settings (LABS_* variables, see the
README); the options below override them. Each run gets a new folder (never an old one
overwritten) with checkpoints, ``final/`` (the model or the adapter, with the tokenizer) and
``losses.csv``; ``--resume`` continues an interrupted run from its latest checkpoint. A ``ppo``
run writes ``final/`` (adapter, value head, tokenizer), ``ppo_history.csv`` and
``train_summary.json`` (see ``labs_helpers.rlhf.run``); a ``dpo`` run ``final/`` (adapter, tokenizer),
``dpo_history.csv`` and ``train_summary.json`` (``labs_helpers.rlhf.dpo_run``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import course
from .errors import LabsError
from .profiles import MAX_LEARNING_RATE
from .setting_values import MOST
from .threads import apply_thread_env

if TYPE_CHECKING:
    from .finetuning import TrainOutcome


def _checked(parse, valid, bound: str):
    """An argparse type: ``parse`` the text, then refuse a value that is not ``valid`` in one sentence."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"must be {bound}, not {text!r}")
        return value

    return convert


def _whole(most: int):
    """An argparse type for a whole number from 1 to ``most`` (every option that sizes work has a bound)."""
    return _checked(int, lambda v: 1 <= v <= most, f"a whole number of 1 or more and at most {most}")


_steps, _examples, _batch = _whole(MOST["LABS_TRAIN_STEPS"]), _whole(MOST["LABS_TRAIN_EXAMPLES"]), _whole(1024)
_positive_int = _whole(4096)  # token lengths, gradient accumulation, LoRA rank and alpha
_learning_rate = _checked(
    float,
    lambda v: math.isfinite(v) and 0 < v <= MAX_LEARNING_RATE,
    f"a number above 0 and at most {MAX_LEARNING_RATE:g}",
)
_weight_decay = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a finite number of 0 or more")
_dropout = _checked(float, lambda v: 0 <= v < 1, "a number from 0 up to (not including) 1")


def build_parser() -> argparse.ArgumentParser:
    """The command line's options (defaults: the settings and the lab's hyper-parameters)."""
    parser = argparse.ArgumentParser(
        prog="python -m labs_helpers.train",
        description=__doc__.splitlines()[0],
        epilog="Defaults not shown come from the kit's settings (LABS_* variables).",
    )
    parser.add_argument(
        "kind", choices=("full", "lora", "ppo", "dpo"), help="full fine-tuning, a LoRA adapter, or PPO / DPO on a LoRA"
    )
    parser.add_argument("--output-dir", help="run folder (default: a new <run dir>/train/<kind>-NNN)")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="CHECKPOINT",
        help="continue from a checkpoint-N folder or a run folder (its latest checkpoint); "
        "alone, the latest checkpoint in --output-dir",
    )
    parser.add_argument("--model", help="model id or folder (default: LABS_MODEL / the profile's model)")
    parser.add_argument("--dataset", help="dataset id or folder (default: LABS_DATASET / the profile's data)")
    parser.add_argument("--steps", type=_steps, help="optimizer steps (LABS_TRAIN_STEPS; ppo: LABS_PPO_STEPS)")
    parser.add_argument("--examples", type=_examples, help="training examples, a slice of train (LABS_TRAIN_EXAMPLES)")
    parser.add_argument("--eval-examples", type=_examples, help="validation examples (10 x LABS_N_EVAL)")
    parser.add_argument(
        "--batch-size", type=_batch, help="batch size per device (LABS_BATCH_SIZE; ppo: LABS_PPO_BATCH_SIZE)"
    )
    parser.add_argument(
        "--lr",
        type=_learning_rate,
        help="learning rate (default: LABS_FULL_LR / LABS_LORA_LR / LABS_PPO_LR; the lab's: "
        f"full {course.FULL_LEARNING_RATE:g}, lora {course.LORA_LEARNING_RATE:g}, ppo {course.PPO_LEARNING_RATE:g})",
    )
    parser.add_argument(
        "--weight-decay", type=_weight_decay, help=f"weight decay (lab: full {course.FULL_WEIGHT_DECAY:g})"
    )
    parser.add_argument(
        "--max-input-tokens", type=_positive_int, default=course.MAX_INPUT_TOKENS, help="prompt truncation length"
    )
    parser.add_argument("--gradient-accumulation", type=_positive_int, default=1, help="batches per optimizer step")
    _add_precision_options(parser.add_mutually_exclusive_group())
    _add_kind_options(parser)
    return parser


def _add_precision_options(precision) -> None:
    """--bf16 (autocast) or --fp32; neither: the settings' autocast decides (on where bf16 is native)."""
    precision.add_argument(
        "--bf16",
        dest="bf16",
        action="store_true",
        default=None,
        help="bf16 autocast (default: LABS_AUTOCAST, on where the hardware multiplies bf16 natively)",
    )
    precision.add_argument("--fp32", dest="bf16", action="store_false", help="full fp32 (deterministic on CPU)")


def _add_kind_options(parser: argparse.ArgumentParser) -> None:
    """The options of one kind only: LoRA's adapter shape, PPO's start and KL reference."""
    _add_lora_options(parser.add_argument_group("LoRA (kind lora)"))
    ppo = parser.add_argument_group("PPO and DPO (kinds ppo and dpo, notebook 06)")
    ppo.add_argument(
        "--adapter", help="LoRA adapter folder to start from (default: notebook 05's latest, else trained)"
    )
    ppo.add_argument(
        "--reference",
        choices=("instruct", "base"),
        default="instruct",
        help="KL reference: the Lab 2 summarizer (instruct) or the model without adapter (base, the course's trl)",
    )
    ppo.add_argument("--beta", type=_learning_rate, help="DPO's beta, the strength of its KL anchor (default 0.1)")


def _add_lora_options(lora) -> None:
    """The LoRA options (defaults: the lab's LoraConfig)."""
    lora.add_argument("--r", type=_positive_int, default=course.LORA["r"], help="rank")
    lora.add_argument("--alpha", type=_positive_int, default=course.LORA["lora_alpha"], help="lora_alpha")
    lora.add_argument("--dropout", type=_dropout, default=course.LORA["lora_dropout"], help="lora_dropout")
    lora.add_argument("--target-modules", nargs="+", default=course.LORA["target_modules"], help="module names")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, train, save, print where everything is; exit status 2 on a LabsError."""
    apply_thread_env()  # before torch loads (threads.py: why)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse already printed the one sentence (or --help)
        return int(stop.code or 0)
    try:
        _name_unknown_variables()
        if args.kind in ("ppo", "dpo"):
            print(json.dumps(_train_ppo(args), indent=2))
            return 0
        outcome = _train(args)
    except LabsError as error:
        print(f"labs_helpers.train: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # Ctrl-C: one line (where it stopped, how to continue), no traceback
        print(f"labs_helpers.train: {getattr(stop, 'sentence', _EARLY_STOP)}", file=sys.stderr)
        return 130
    if outcome.trainer.is_world_process_zero():
        print(json.dumps(_write_summary(args.kind, outcome), indent=2))
    return 0


def _name_unknown_variables() -> None:
    """One line on stderr per LABS_* variable the kit does not read (a misspelt setting is not silently ignored)."""
    from .settings import get_settings

    for note in get_settings().unknown:
        print(f"labs_helpers.train: {note}", file=sys.stderr)


_EARLY_STOP = "Interrupted before training began: nothing was trained, so run the command again to start."


def _train(args: argparse.Namespace) -> TrainOutcome:
    """The settings (the entry point reads them), the options on top, then one ``finetune`` call."""
    from .data import load_dialogsum
    from .finetuning import FinetunePlan, finetune
    from .models import check_model, resolve_model
    from .settings import get_settings

    settings = get_settings()
    if args.dataset:
        settings = dataclasses.replace(settings, dataset=args.dataset)
    resume = args.resume
    if resume == "latest":
        if not args.output_dir:
            raise LabsError(
                "--resume without a path needs --output-dir (the run to continue). "
                "Or pass the run or checkpoint folder: --resume runs/.../full-001"
            )
        resume = args.output_dir
    dataset = load_dialogsum(settings.dataset)
    lora = course.LORA | dict(
        r=args.r, lora_alpha=args.alpha, lora_dropout=args.dropout, target_modules=list(args.target_modules)
    )
    plan = FinetunePlan.from_settings(
        args.kind,
        settings,
        check_model(args.model, "--model") if args.model else resolve_model(settings, dataset),
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        steps=args.steps,
        batch_size=args.batch_size,
        train_examples=args.examples,
        eval_examples=args.eval_examples,
        bf16=args.bf16,
        max_input_tokens=args.max_input_tokens,
        gradient_accumulation=args.gradient_accumulation,
        lora=lora,
    )
    return finetune(
        plan, dataset, output_dir=args.output_dir, runs_parent=Path(settings.run_dir) / "train", resume=resume
    )


def _train_ppo(args: argparse.Namespace) -> dict:
    """PPO or DPO as notebook 06 runs it: the settings' budgets, the options on top, a new ``<kind>-NNN`` folder."""
    from .data import load_dialogsum
    from .folder_lock import claim, discard_if_empty, release
    from .models import resolve_model
    from .rlhf.dpo_run import DPORun, run_dpo
    from .rlhf.run import PPORun, run_ppo
    from .runs import check_output_dir, new_run_folder
    from .settings import get_settings

    if args.resume is not None:
        raise LabsError(
            f"train {args.kind} cannot --resume: its run keeps no checkpoints (it takes minutes), so an "
            "interrupted one is started again. Leave --resume out; each run gets a new folder."
        )
    settings = get_settings()
    if args.dataset:
        settings = dataclasses.replace(settings, dataset=args.dataset)
    dataset = load_dialogsum(settings.dataset)
    options = dict(adapter=args.adapter, steps=args.steps, learning_rate=args.lr, batch_size=args.batch_size)
    model = args.model or resolve_model(settings, dataset)
    if args.kind == "dpo":
        run, train = DPORun.from_settings(settings, model, beta=args.beta, reference=args.reference, **options), run_dpo
    else:
        run, train = PPORun.from_settings(settings, model, reference=args.reference, **options), run_ppo
    if args.output_dir:
        folder = check_output_dir(args.output_dir, resumable=False)
    else:
        folder = claim(new_run_folder(Path(settings.run_dir) / "train", args.kind))
    try:
        return train(run, dataset, folder)  # type: ignore[arg-type]
    except (LabsError, KeyboardInterrupt):
        discard_if_empty(folder)  # a refused or interrupted run that wrote nothing leaves no folder
        raise
    finally:
        release(folder)


def _write_summary(kind: str, outcome: TrainOutcome) -> dict:
    """``losses.csv`` and ``train_summary.json`` in the run folder; returns the summary."""
    outcome.history.to_csv(Path(outcome.output_dir) / "losses.csv")
    losses = outcome.history["train_loss"].dropna()
    summary = {
        "kind": kind,
        "output_dir": str(outcome.output_dir),
        "final": str(outcome.final_dir),
        "steps": int(outcome.trainer.state.global_step),
        "first_loss": round(float(losses.iloc[0]), 4) if len(losses) else None,
        "last_loss": round(float(losses.iloc[-1]), 4) if len(losses) else None,
        "started_from": outcome.started_from,  # the checkpoint a resumed run continued from (None: a fresh run)
    }
    (Path(outcome.output_dir) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    sys.exit(main())
