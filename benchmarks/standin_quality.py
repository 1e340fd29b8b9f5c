"""Does the offline stand-in's fine-tuned summary depend on the dialogue?

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
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.standin_run import Run, run_models  # noqa: E402

TARGETS = dict(
    min_distinct_share=0.8,
    min_content_share=0.60,
    min_margin_over_constant=0.05,
    max_lora_gap=0.05,
    max_build_minutes=15.0,
)


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
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


def main(argv=None) -> int:
    """Run the benchmark, print the targets table and write the JSON; 0 if every target is met, else 1."""
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    run = run_models(args)
    predictions, build = merge_earlier(args, run.result, run.build)
    test_set = run.result["test_set"]
    predictions["constant"] = [run.constant] * len(test_set)
    rows, diff = score(predictions, test_set, run.template, args.seed)
    full_rouge1 = rows.get("full fine-tune", dict(rouge1=float("nan")))["rouge1"]
    gap = round(full_rouge1 - rows["LoRA"]["rouge1"], 4) if "LoRA" in rows else None
    checks = check_targets(rows, diff, gap, build, len(test_set))
    print_table(run, rows, diff, gap, build, checks)
    report = dict(
        n_eval=len(test_set),
        seed=args.seed,
        dataset=str(args.dataset),
        settings={name: getattr(run.settings, name) for name in RECORDED_SETTINGS},
        generation_defaults=run.generation,
        models=rows,
        constant=dict(
            summary=run.constant,
            train_rouge1=round(run.constant_train_r1, 4),
            seconds=round(run.constant_seconds, 1),
        ),
        full_minus_constant=[round(x, 4) for x in diff],
        lora_gap=gap,
        build=build,
        fine_tune_seconds=run.result["seconds"],
        checks=checks,
        template_words=len(run.template),
        predictions=predictions,
        total_seconds=round(time.perf_counter() - started, 1),
    )
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(checks.values()) else 1


RECORDED_SETTINGS = ("train_steps", "batch_size", "train_examples", "full_lr", "lora_lr", "max_new_tokens", "autocast")


def merge_earlier(args: argparse.Namespace, result: dict, build: dict) -> tuple[dict, dict]:
    """Summaries from --predictions with this run's on top; the fine-tuning times this run did not measure."""
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
    return predictions, build


def score(predictions: dict, test_set, template, seed: int) -> tuple[dict, tuple]:
    """Per model ROUGE-1 (95% bootstrap CI), distinct summaries, content-word share; full minus constant."""
    from labs_helpers import baselines
    from labs_helpers.metrics import per_example_scores

    references = [list(r) for r in test_set["references"]]
    dialogues = list(test_set["dialogue"])
    r1 = {
        name: [float(s["rouge1"].fmeasure) for s in per_example_scores(texts, references, rouge_types=("rouge1",))]
        for name, texts in predictions.items()
    }
    rows = {}
    for name, texts in predictions.items():
        low, mean, high = baselines.paired_bootstrap_diff(r1[name], [0.0] * len(texts), seed=seed)
        rows[name] = dict(
            rouge1=round(mean, 4),
            rouge1_low=round(low, 4),
            rouge1_high=round(high, 4),
            distinct=baselines.distinct_count(texts),
            content_share=round(baselines.content_word_share(texts, dialogues, template), 3),
        )
    diff = (
        baselines.paired_bootstrap_diff(r1["full fine-tune"], r1["constant"], seed=seed)
        if "full fine-tune" in r1
        else (float("nan"),) * 3
    )
    return rows, diff


def check_targets(rows: dict, diff: tuple, lora_gap: float | None, build: dict, n: int) -> dict[str, bool]:
    """Each of TARGETS, worded for the table, and whether this run met it."""
    full = rows.get("full fine-tune", dict(rouge1=float("nan"), distinct=0, content_share=0.0))
    build_minutes = build["seconds"] / 60 if build["seconds"] is not None else None
    min_distinct = math.ceil(TARGETS["min_distinct_share"] * n)
    return {
        f"full: distinct >= {min_distinct} of {n}": full["distinct"] >= min_distinct,
        f"full: content-word share >= {TARGETS['min_content_share']:.0%}": full["content_share"]
        >= TARGETS["min_content_share"],
        f"full - constant >= {TARGETS['min_margin_over_constant']} and CI low > 0": diff[1]
        >= TARGETS["min_margin_over_constant"]
        and diff[0] > 0,
        f"LoRA within {TARGETS['max_lora_gap']} of full": lora_gap is not None and lora_gap <= TARGETS["max_lora_gap"],
        f"build <= {TARGETS['max_build_minutes']:g} min": build_minutes is not None
        and build_minutes <= TARGETS["max_build_minutes"],
    }


def print_table(run: Run, rows: dict, diff: tuple, lora_gap: float | None, build: dict, checks: dict) -> None:
    """The targets table: each model's row, the constant, the margin, the build, each target met or not."""
    n = len(run.result["test_set"])
    print(f"\nStand-in quality, {n} unique test dialogues (ROUGE-1 mean, 95% bootstrap CI)")
    print(f"{'model':<16}{'ROUGE-1':>8}  {'95% CI':<15}{'distinct':>9}{'content':>9}")
    for name, row in rows.items():
        print(
            f"{name:<16}{row['rouge1']:>8.3f}  [{row['rouge1_low']:.3f}, {row['rouge1_high']:.3f}] "
            f"{row['distinct']:>8}{row['content_share']:>9.0%}"
        )
    print(
        f"constant summary (train ROUGE-1 {run.constant_train_r1:.3f}, chosen in {run.constant_seconds:.1f} s): "
        f"{run.constant!r}"
    )
    print(f"full - constant: {diff[1]:+.3f} [{diff[0]:+.3f}, {diff[2]:+.3f}]; LoRA gap (full - LoRA): {lora_gap}")
    print(
        f"build: {build['seconds']} s, load average before/after {build['load_average_before']} / "
        f"{build['load_average_after']}; fine-tuning: {run.result['seconds']}"
    )
    for check, ok in checks.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {check}")


if __name__ == "__main__":
    raise SystemExit(main())
