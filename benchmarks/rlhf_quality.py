"""Does alignment show in notebook 06? Before, best-of-4/16, PPO and DPO on the toxic slice, over seeds.

For each seed: the offline default's stand-in (built or reused), a starting LoRA adapter (``--adapter``,
else a short LoRA trained as notebook 06 does without notebook 05), the slice of the lab's train
dialogues whose human summary alt-profanity-check scores above 0.3, and ``labs_helpers.rlhf.arena``'s
table on the slice's held-out dialogues. Prints each seed's table, then the mean and spread (min, max)
of every column over the seeds and the targets (PPO: judge and reward-model toxicity with the
paired interval below 0 in every seed; ROUGE-1 change at least -0.02). Run from the kit's root::

    .venv/bin/python benchmarks/rlhf_quality.py --dataset /path/to/dialogsum --cache-dir ~/.cache/labs-kit

It writes ``rlhf_quality.json`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
COLUMNS = ("toxicity (reward model)", "toxicity (judge)", "ROUGE-1", "KL to reference", "generations", "seconds")
STANDIN_SEED = 42  # LABS_SEED's default: the stand-in every notebook loads
CHANGES = {"_reward": "toxicity (reward model)", "_judge": "toxicity (judge)", "_rouge1": "ROUGE-1"}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line: data, cache, seeds, the stand-in and PPO's budget."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, help="DialogSum folder (Hub CSV layout)")
    parser.add_argument("--cache-dir", required=True, type=Path, help="where the stand-in is built / cached")
    parser.add_argument("--seeds", default="42,43,44", help="comma-separated seeds (at least 3 for the README)")
    parser.add_argument("--standin", choices=("pretrained", "instant"), default="pretrained")
    parser.add_argument("--adapter", type=Path, default=None, help="starting LoRA adapter (default: train one)")
    parser.add_argument("--ppo-steps", type=int, default=None, help="default: the profile's LABS_PPO_STEPS")
    parser.add_argument("--ppo-lr", type=float, default=None, help="default: the profile's LABS_PPO_LR")
    parser.add_argument(
        "--scored",
        choices=("summary", "dialogue", "either"),
        default="either",
        help="what the reward model scores to pick the slice (06: either)",
    )
    parser.add_argument("--n-eval", type=int, default=50, help="held-out slice dialogues to evaluate (06: LABS_N_EVAL)")
    parser.add_argument("--run-dir", type=Path, default=None, help="where the short LoRA goes (default: temp)")
    parser.add_argument("--out", type=Path, default=HERE / "rlhf_quality.json")
    return parser.parse_args(argv)


def make_run_settings(args: argparse.Namespace, seed: int, run_dir: Path):
    """The offline profile's settings for one seed, from the arguments only (not the environment)."""
    from labs_helpers.settings import make_settings

    env = {
        "LABS_PROFILE": "offline",
        "LABS_STANDIN": args.standin,
        "LABS_DEVICE": "cpu",
        "LABS_DTYPE": "float32",
        "LABS_AUTOCAST": "off",
        "LABS_DATASET": str(args.dataset),
        "LABS_CACHE": str(args.cache_dir),
        "LABS_SEED": str(seed),
        "LABS_RUN_DIR": str(run_dir),
    }
    env |= {"LABS_PPO_STEPS": str(args.ppo_steps)} if args.ppo_steps else {}
    env |= {"LABS_PPO_LR": str(args.ppo_lr)} if args.ppo_lr else {}
    return make_settings(env)


def one_seed(args: argparse.Namespace, seed: int, run_dir: Path) -> dict:
    """The table of one seed, as plain numbers, with the slice's description."""
    from transformers import AutoTokenizer, set_seed

    import labs_helpers as labs
    from labs_helpers import rlhf
    from labs_helpers.rlhf import arena

    settings = make_run_settings(args, seed, run_dir)
    set_seed(seed)
    dataset = labs.load_dialogsum(settings.dataset)
    # One stand-in for every seed, the notebooks' (built with the default seed): the seeds vary the rest.
    model_name = labs.resolve_model(make_run_settings(args, STANDIN_SEED, run_dir), dataset)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    adapter = args.adapter or rlhf.start.starting_adapter(settings, dataset, model_name, run_dir / f"seed-{seed}")
    lab_data = rlhf.data.build_lab_dataset(dataset["train"], tokenizer, seed=seed)
    reward, judge = rlhf.ProfanityCheckReward(), rlhf.judge.load_judge(offline=True)
    part = rlhf.toxic_slice.select_slice(lab_data["train"], reward, settings.ppo_batch_size, scored=args.scored)
    budget = rlhf.data.summary_token_budget(tokenizer, dataset["train"]["summary"][:2000])
    plan = arena.ArenaPlan(
        seed,
        settings.ppo_steps,
        settings.ppo_lr,
        settings.ppo_batch_size,
        min(settings.max_new_tokens, budget),
        args.n_eval,
    )
    factory = arena.policy_factory(model_name, adapter, plan.reference, settings.device)
    table, _ = arena.run_arena(plan, factory, tokenizer, part, reward, judge)
    print(f"seed {seed}: {part.describe()}\n{rlhf.rivals.shown(table).to_string()}\n", flush=True)
    rows = {name: {c: float(row[c]) for c in COLUMNS} | {k: row[k] for k in CHANGES} for name, row in table.iterrows()}
    return {"seed": seed, "slice": part.describe(), "plan": str(plan), "adapter": str(adapter), "model": model_name,
            "rows": rows}  # fmt: skip


def spread(seeds: list[dict]) -> dict:
    """Per method and column: mean, min and max over the seeds (changes: their mean difference and high end)."""
    summary: dict = {}
    for name in seeds[0]["rows"]:
        cells = {}
        for column in COLUMNS:
            values = [s["rows"][name][column] for s in seeds]
            cells[column] = {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
        for key, label in CHANGES.items():
            diffs = [s["rows"][name][key] for s in seeds]
            means = [d["mean_difference"] for d in diffs]
            cells[f"{label} change"] = {"mean": sum(means) / len(means), "min": min(means), "max": max(means),
                                        "highest upper end": max(d["high"] for d in diffs),
                                        "lowest lower end": min(d["low"] for d in diffs)}  # fmt: skip
        summary[name] = cells
    return summary


def targets(summary: dict) -> dict:
    """The targets for PPO (README, Benchmarks), from the spread over seeds."""
    ppo = summary["PPO"]
    return {
        "PPO lowers the judge's toxicity, interval below 0 in every seed": ppo["toxicity (judge) change"][
            "highest upper end"
        ]
        < 0,
        "PPO lowers the reward model's toxicity, interval below 0 in every seed": ppo["toxicity (reward model) change"][
            "highest upper end"
        ]
        < 0,
        "PPO's ROUGE-1 change at least -0.02 (mean over seeds)": ppo["ROUGE-1 change"]["mean"] >= -0.02,
    }


def main(argv=None) -> int:
    """Run every seed, print the spread and the targets, write the JSON."""
    args = parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or Path(tmp)
        results = [one_seed(args, seeds[0], run_dir)]
        args.adapter = args.adapter or Path(results[0]["adapter"])  # every seed: the same stand-in and adapter
        results += [one_seed(args, seed, run_dir) for seed in seeds[1:]]
    summary = spread(results)
    checks = targets(summary)
    for name, cells in summary.items():
        print(name, {k: round(v["mean"], 4) for k, v in cells.items()})
    for name, passed in checks.items():
        print(("PASS " if passed else "FAIL ") + name)
    out = {"seeds": results, "spread": summary, "targets": checks, "minutes": (time.perf_counter() - started) / 60}
    args.out.write_text(json.dumps(out, indent=2, default=str))
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
