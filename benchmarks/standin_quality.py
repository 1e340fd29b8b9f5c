"""Does the offline stand-in's fine-tuned summary depend on the dialogue? (issue 19)

Builds (or reuses from the cache) the pre-trained stand-in, fine-tunes it fully and with LoRA
using the budgets of the offline default (``SIZES["pretrained"]``, as notebooks 04 and 05 do),
summarizes the first ``--n-eval`` unique test dialogues, and prints the targets table:

- full fine-tune: at least 80% distinct summaries (40 of 50), at least 60% holding a content word of
  their own dialogue (``labs_helpers.baselines.content_word_share``);
- full fine-tune ROUGE-1 at least 0.05 above the best constant summary (chosen on the train
  split), with the paired bootstrap interval of the difference above 0;
- LoRA within 0.05 ROUGE-1 of the full fine-tune;
- the stand-in built in at most 15 minutes (the time of the build recorded in the cache).

Run from the kit's root::

    .venv/bin/python benchmarks/standin_quality.py --dataset /path/to/dialogsum --cache-dir /tmp/cache

It writes ``standin_quality.json`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

TARGETS = dict(
    min_distinct_share=0.8,
    min_content_share=0.60,
    min_margin_over_constant=0.05,
    max_lora_gap=0.05,
    max_build_minutes=15.0,
)


def parse_args(argv=None) -> argparse.Namespace:
    from labs_helpers.standin.plan import PLANS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, help="DialogSum folder (Hub CSV layout) or dataset id")
    parser.add_argument("--cache-dir", required=True, type=Path, help="where the stand-in is built / cached")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plan", default="default", choices=sorted(PLANS), help="pre-training plan (standin.plan)")
    parser.add_argument("--n-eval", type=int, default=50, help="unique test dialogues to evaluate")
    parser.add_argument("--run-dir", type=Path, default=None, help="where fine-tuning runs go (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=HERE / "standin_quality.json")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--train-steps", type=int, default=None, help="override SIZES['pretrained'] (experiments)")
    parser.add_argument("--full-lr", type=float, default=None)
    parser.add_argument("--lora-lr", type=float, default=None)
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument(
        "--kinds",
        default="zero-shot,full,lora",
        help="models to run here, comma-separated from zero-shot,full,lora (default: all)",
    )
    parser.add_argument(
        "--autocast",
        choices=("off", "bfloat16"),
        default=None,
        help="fine-tuning precision (default: bf16 autocast where the CPU multiplies bf16, as make labs does)",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        action="append",
        default=[],
        help="reuse the summaries of an earlier run's JSON (e.g. full and LoRA run in two processes)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="evaluate this stand-in folder instead of the cached build (experiments)",
    )
    return parser.parse_args(argv)


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


def _stand_in(settings, dataset, plan_name: str) -> tuple[Path, dict]:
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


def _generation_defaults(folder: Path) -> dict:
    """The decoding settings the stand-in ships with (beyond its special token ids)."""
    from transformers import GenerationConfig

    shipped = GenerationConfig.from_pretrained(folder).to_diff_dict()
    return {k: v for k, v in shipped.items() if not k.endswith("token_id") and k != "transformers_version"}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from labs_helpers import baselines
    from labs_helpers.data import load_dialogsum
    from labs_helpers.metrics import per_example_scores

    started = time.perf_counter()
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
            folder, build = _stand_in(settings, dataset, args.plan)
        print(f"stand-in: {folder} (build {build['seconds']} s, load {build['load_average_before']})", flush=True)
        print(f"precision: {settings.precision_note}", flush=True)  # bf16 autocast where the CPU has it
        generation = _generation_defaults(folder)
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

    test_set, predictions, seconds = result["test_set"], {}, {}
    for path in args.predictions:
        earlier = json.loads(path.read_text())
        if earlier["n_eval"] != len(test_set) or earlier["seed"] != args.seed:
            raise SystemExit(f"{path}: other evaluation set or seed ({earlier['n_eval']}, {earlier['seed']})")
        predictions.update({k: v for k, v in earlier["predictions"].items() if k != "constant"})
        seconds.update(earlier.get("fine_tune_seconds", {}))
        build = build if build["seconds"] is not None else earlier.get("build", build)
    predictions.update(result["predictions"])
    result["seconds"] = {**seconds, **result["seconds"]}  # what this run trained, it timed
    predictions["constant"] = [constant] * len(test_set)
    references = [list(r) for r in test_set["references"]]
    dialogues = list(test_set["dialogue"])
    r1 = {
        name: [float(s["rouge1"].fmeasure) for s in per_example_scores(texts, references, rouge_types=("rouge1",))]
        for name, texts in predictions.items()
    }
    rows = {}
    for name, texts in predictions.items():
        low, mean, high = baselines.paired_bootstrap_diff(r1[name], [0.0] * len(texts), seed=args.seed)
        rows[name] = dict(
            rouge1=round(mean, 4),
            rouge1_low=round(low, 4),
            rouge1_high=round(high, 4),
            distinct=baselines.distinct_count(texts),
            content_share=round(baselines.content_word_share(texts, dialogues, template), 3),
        )
    full = rows.get("full fine-tune", dict(rouge1=float("nan"), distinct=0, content_share=0.0))
    diff = (
        baselines.paired_bootstrap_diff(r1["full fine-tune"], r1["constant"], seed=args.seed)
        if "full fine-tune" in r1
        else (float("nan"),) * 3
    )
    lora_gap = round(full["rouge1"] - rows["LoRA"]["rouge1"], 4) if "LoRA" in rows else None
    build_minutes = build["seconds"] / 60 if build["seconds"] is not None else None
    min_distinct = math.ceil(TARGETS["min_distinct_share"] * len(dialogues))
    checks = {
        f"full: distinct >= {min_distinct} of {len(dialogues)}": full["distinct"] >= min_distinct,
        f"full: content-word share >= {TARGETS['min_content_share']:.0%}": full["content_share"]
        >= TARGETS["min_content_share"],
        f"full - constant >= {TARGETS['min_margin_over_constant']} and CI low > 0": diff[1]
        >= TARGETS["min_margin_over_constant"]
        and diff[0] > 0,
        f"LoRA within {TARGETS['max_lora_gap']} of full": lora_gap is not None and lora_gap <= TARGETS["max_lora_gap"],
        f"build <= {TARGETS['max_build_minutes']:g} min": build_minutes is not None
        and build_minutes <= TARGETS["max_build_minutes"],
    }

    print(f"\nStand-in quality, {len(dialogues)} unique test dialogues (ROUGE-1 mean, 95% bootstrap CI)")
    print(f"{'model':<16}{'ROUGE-1':>8}  {'95% CI':<15}{'distinct':>9}{'content':>9}")
    for name, row in rows.items():
        print(
            f"{name:<16}{row['rouge1']:>8.3f}  [{row['rouge1_low']:.3f}, {row['rouge1_high']:.3f}] "
            f"{row['distinct']:>8}{row['content_share']:>9.0%}"
        )
    print(f"constant summary (train ROUGE-1 {constant_train_r1:.3f}, chosen in {constant_seconds:.1f} s): {constant!r}")
    print(f"full - constant: {diff[1]:+.3f} [{diff[0]:+.3f}, {diff[2]:+.3f}]; LoRA gap (full - LoRA): {lora_gap}")
    print(
        f"build: {build['seconds']} s, load average before/after {build['load_average_before']} / "
        f"{build['load_average_after']}; fine-tuning: {result['seconds']}"
    )
    for check, ok in checks.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {check}")

    report = dict(
        n_eval=len(dialogues),
        seed=args.seed,
        dataset=str(args.dataset),
        settings=dict(
            train_steps=settings.train_steps,
            batch_size=settings.batch_size,
            train_examples=settings.train_examples,
            full_lr=settings.full_lr,
            lora_lr=settings.lora_lr,
            max_new_tokens=settings.max_new_tokens,
            autocast=settings.autocast,
        ),
        generation_defaults=generation,
        models=rows,
        constant=dict(summary=constant, train_rouge1=round(constant_train_r1, 4), seconds=round(constant_seconds, 1)),
        full_minus_constant=[round(x, 4) for x in diff],
        lora_gap=lora_gap,
        build=build,
        fine_tune_seconds=result["seconds"],
        checks=checks,
        template_words=len(template),
        predictions=predictions,
        total_seconds=round(time.perf_counter() - started, 1),
    )
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
