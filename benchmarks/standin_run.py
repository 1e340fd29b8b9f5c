"""The stand-in benchmark's run: its settings, the stand-in built or reused, fine-tuned (full, LoRA), summarizing."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def stand_in(settings, dataset, plan_name: str) -> tuple[Path, dict]:
    """The stand-in's folder and how long its build took (this run, or as recorded in the cache)."""
    from labs_helpers.standin import cache, pretrain, tasks
    from labs_helpers.standin.plan import PLANS

    plan = PLANS[plan_name]
    folder = pretrain.pretrained_folder(tasks.Corpus.from_dataset(dataset), settings.cache_dir, settings.seed, plan)
    built_here = not cache.is_complete(folder)
    load_before = os.getloadavg()
    began = time.perf_counter()
    folder = pretrain.ensure_pretrained(dataset, settings.cache_dir, settings.seed, plan)
    seconds = time.perf_counter() - began
    marker = json.loads((folder / cache.COMPLETE_MARKER).read_text())
    info = dict(
        folder=str(folder),
        built_now=built_here,
        seconds=round(seconds, 1) if built_here else marker.get("seconds_this_run"),
        load_average_before=marker.get("load_average_before", list(load_before) if built_here else None),
        load_average_after=marker.get("load_average_after", list(os.getloadavg()) if built_here else None),
        threads=marker.get("threads"),
        steps=marker.get("steps"),
    )
    return folder, info


NAMES = {"zero-shot": "zero-shot", "full": "full fine-tune", "lora": "LoRA"}


def evaluate_models(settings, dataset, folder: Path, run_dir: Path, kinds: list[str]) -> dict:
    """Fine-tune (full, LoRA) and summarize the evaluation dialogues with every model; timings included."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from labs_helpers import evaluation, finetuning

    tokenizer = AutoTokenizer.from_pretrained(folder)
    test_set = evaluation.eval_dialogues(dataset["test"], settings.n_eval)
    dialogues = list(test_set["dialogue"])

    def summaries(model) -> list[str]:
        return evaluation.summarize_dialogues(
            model, tokenizer, dialogues, batch_size=settings.eval_batch_size, max_new_tokens=settings.max_new_tokens
        )

    out, seconds = {}, {}
    if "zero-shot" in kinds:
        out["zero-shot"] = summaries(AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32))
    for kind in [k for k in ("full", "lora") if k in kinds]:
        began = time.perf_counter()
        plan = finetuning.FinetunePlan.from_settings(kind, settings, str(folder))
        outcome = finetuning.finetune(plan, dataset, run_dir / kind)
        seconds[f"{kind} fine-tune"] = round(time.perf_counter() - began, 1)
        model = (
            AutoModelForSeq2SeqLM.from_pretrained(outcome.final_dir, dtype=torch.float32)
            if kind == "full"
            else (_merged(folder, outcome.final_dir))
        )
        out["full fine-tune" if kind == "full" else "LoRA"] = summaries(model)
        print(
            f"{kind}: trained in {seconds[f'{kind} fine-tune']:.0f} s; last losses "
            f"{outcome.history['train_loss'].dropna().tolist()[-3:]}",
            flush=True,
        )
    return dict(test_set=test_set, predictions=out, seconds=seconds)


def _merged(base: Path, adapter: Path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSeq2SeqLM

    return PeftModel.from_pretrained(
        AutoModelForSeq2SeqLM.from_pretrained(base, dtype=torch.float32), adapter
    ).merge_and_unload()


def generation_defaults(folder: Path) -> dict:
    """The decoding settings the stand-in ships with (beyond its special token ids)."""
    from transformers import GenerationConfig

    shipped = GenerationConfig.from_pretrained(folder).to_diff_dict()
    return {k: v for k, v in shipped.items() if not k.endswith("token_id") and k != "transformers_version"}


def make_run_settings(args: argparse.Namespace, run_dir: Path):
    """The offline default's settings, from the arguments only (not the environment)."""
    from labs_helpers.settings import make_settings

    env = {
        "LABS_PROFILE": "offline",
        "LABS_STANDIN": "pretrained",
        "LABS_DEVICE": "cpu",
        "LABS_DTYPE": "float32",
        "LABS_DATASET": str(args.dataset),
        "LABS_CACHE": str(args.cache_dir),
        "LABS_SEED": str(args.seed),
        "LABS_N_EVAL": str(args.n_eval),
        "LABS_RUN_DIR": str(run_dir),
    }
    for flag, name in (
        ("train_steps", "LABS_TRAIN_STEPS"),
        ("full_lr", "LABS_FULL_LR"),
        ("lora_lr", "LABS_LORA_LR"),
        ("train_examples", "LABS_TRAIN_EXAMPLES"),
        ("autocast", "LABS_AUTOCAST"),
    ):
        if getattr(args, flag) is not None:
            env[name] = str(getattr(args, flag))
    return make_settings(env)


@dataclass
class Run:
    """What ``run_models`` measured: the settings, the stand-in's build, the constant summary, the models' output."""

    settings: Any
    build: dict
    generation: dict
    constant: str
    constant_train_r1: float
    constant_seconds: float
    template: Any
    result: dict


def run_models(args: argparse.Namespace) -> Run:
    """The stand-in (built, reused or --model), the best constant summary, and each model's summaries."""
    from labs_helpers import baselines
    from labs_helpers.data import load_dialogsum

    with tempfile.TemporaryDirectory(prefix="standin-quality-") as tmp:
        run_dir = args.run_dir or Path(tmp)
        settings = make_run_settings(args, run_dir)
        dataset = load_dialogsum(settings.dataset)
        if args.model is not None:
            folder, build = (
                args.model,
                dict(
                    folder=str(args.model),
                    built_now=False,
                    seconds=None,
                    load_average_before=None,
                    load_average_after=None,
                ),
            )
        else:
            folder, build = stand_in(settings, dataset, args.plan)
        print(f"stand-in: {folder} (build {build['seconds']} s, load {build['load_average_before']})", flush=True)
        print(f"precision: {settings.precision_note}", flush=True)  # bf16 autocast where the CPU has it
        generation = generation_defaults(folder)
        print(f"its generation defaults (generation_config.json): {generation or 'none'}; greedy", flush=True)

        began = time.perf_counter()
        constant, constant_train_r1 = baselines.best_constant_summary(dataset["train"], seed=args.seed)
        constant_seconds = time.perf_counter() - began
        template = baselines.template_words(list(dataset["train"]["summary"]))
        kinds = [k for k in args.kinds.split(",") if k]
        unknown = sorted(set(kinds) - set(NAMES))
        if unknown:
            raise SystemExit(f"--kinds: unknown {unknown}; use {', '.join(NAMES)}")
        result = evaluate_models(settings, dataset, folder, run_dir, kinds)
    return Run(settings, build, generation, constant, constant_train_r1, constant_seconds, template, result)
