"""Benchmarks: the course lab's patterns against the kit's, on a model with flan-t5-base's shape.

Run ``make bench`` (or ``.venv/bin/python benchmarks/run.py``). It prints a table, writes
``benchmarks/results.json`` and regenerates ``benchmarks/README.md`` from that JSON (through
``README.template.md``). What is measured and how: ``benchmarks/README.md``.

Options: ``--quick`` (a smoke run: a few dialogues and tokens, one training step),
``--tiny`` (a tiny T5 instead of flan-t5-base's shape; for the test suite), ``--out DIR``
(where results.json and README.md go), ``--sections gen,eval,cpu,train``, ``--readme-only``.

The jobs live in modules of their own: ``shapes`` (the model, the sizes), ``measure`` (FLOPs,
memory, the machine, one entry), ``cases/`` (one module per section), ``workers`` (a case in a
child process), ``report`` (table, details, recommendations, README).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script (make bench): the kit's root makes ``benchmarks`` importable
    sys.path.insert(0, str(HERE.parent))

from benchmarks import report  # noqa: E402
from benchmarks.measure import load_average, log, machine_info  # noqa: E402
from benchmarks.shapes import FLAN_T5_BASE, FULL, QUICK, TINY, TINY_SIZES  # noqa: E402

SECTIONS = "gen,eval,cpu,train,course,contention"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``--train-worker`` is how run.py starts a training case in a child process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few dialogues and tokens")
    parser.add_argument("--tiny", action="store_true", help="a tiny T5 instead of flan-t5-base's shape (tests)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.json and README.md")
    parser.add_argument("--sections", default=SECTIONS, help=f"comma-separated: {SECTIONS}")
    parser.add_argument("--readme-only", action="store_true", help="rewrite README.md from results.json")
    parser.add_argument("--train-worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def load_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """Settings, dialogues, the stand-in tokenizer and the prompts every generation case uses."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    import labs_helpers as labs
    from labs_helpers.prompting import format_prompt
    from labs_helpers.settings import make_settings

    hf_logging.set_verbosity_error()
    # Offline unless asked otherwise: the instant stand-in's tokenizer (seconds to build), no Hub probe.
    env = dict(os.environ)
    env.update(LABS_PROFILE=env.get("LABS_PROFILE") or "offline", LABS_STANDIN=env.get("LABS_STANDIN") or "instant")
    settings = make_settings(env)
    sizes = TINY_SIZES if args.tiny else QUICK if args.quick else FULL
    dataset = labs.load_dialogsum(settings.dataset)
    tokenizer = AutoTokenizer.from_pretrained(labs.resolve_model(settings, dataset))
    unique = labs.group_references(dataset["test"])
    prompts = [format_prompt("finetune", d) for d in unique["dialogue"][: sizes.gen_dialogues]]
    return dict(
        settings=settings,
        sizes=sizes,
        cfg=TINY if args.tiny else FLAN_T5_BASE,
        dataset=dataset,
        tokenizer=tokenizer,
        prompts=prompts,
    )


def run_sections(args: argparse.Namespace, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The cases the command line asks for, in order; their entries."""
    from benchmarks.cases import contention, course, cpu, evaluation, generation, precision, training
    from benchmarks.shapes import build_model

    sections, sizes, cfg = set(args.sections.split(",")), inputs["sizes"], inputs["cfg"]
    tokenizer, prompts, dataset = inputs["tokenizer"], inputs["prompts"], inputs["dataset"]
    results: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    log("matmul peak")
    cpu.bench_matmul(sizes, results, context)
    model = build_model(cfg, inputs["settings"].seed) if sections & {"gen", "eval", "cpu"} else None
    gen = None
    if sections & {"gen", "eval"}:
        log("generation")
        gen = generation.bench_generation(model, tokenizer, cfg, prompts, sizes, results, context)
    if "gen" in sections:
        log("generation, long outputs")
        long_prompts = prompts[: sizes.long_dialogues]
        name = "generation throughput, long outputs"
        generation.bench_generation(
            model, tokenizer, cfg, long_prompts, sizes, results, context, new_tokens=sizes.long_new_tokens, name=name
        )
        log("the default inference path; bf16 weights vs bf16 autocast")
        autocast = inputs["settings"].autocast  # the precision the run card chooses on this machine
        precision.bench_precisions(model, tokenizer, cfg, prompts, sizes, results, context, autocast)
    if "eval" in sections:
        log("evaluation")
        evaluation.bench_evaluation(dataset["test"], gen, results)
    if "cpu" in sections:
        log("cpu options")
        cpu.bench_cpu_options(model, tokenizer, cfg, prompts, sizes, results)
    del model
    if "train" in sections:
        seed = inputs["settings"].seed
        training.bench_training(
            tokenizer, cfg, dataset["train"], sizes, seed, results, timeout=900, in_process=args.tiny
        )
    if "course" in sections:
        log("course profile's cost")
        course.bench_course(tokenizer, cfg, dataset, prompts, inputs["settings"].seed, sizes.train_rounds, results)
    if "contention" in sections:
        log("contention: alone and beside another job")
        contention.bench_contention(sizes, results)
    return results


def run_card(args: argparse.Namespace, inputs: dict[str, Any], seconds: float, load: list[float]) -> dict[str, Any]:
    """What results.json says about the run itself."""
    settings = inputs["settings"]
    return dict(
        date=time.strftime("%Y-%m-%d %H:%M"),
        mode="tiny" if args.tiny else "quick" if args.quick else "full",
        wall_seconds=round(seconds, 1),
        model="tiny T5 (test)" if args.tiny else "flan-t5-base configuration, random weights",
        dataset=str(settings.dataset),
        tokenizer="kit stand-in" if settings.uses_standin else settings.model,
        sizes=dataclasses.asdict(inputs["sizes"]),
        load_average_before=load,  # the machine's own load, before this run added to it
        load_average_after=load_average(),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; print the table; write results.json and README.md."""
    args = parse_args(argv)
    if args.train_worker:
        from benchmarks.cases.training import train_worker

        print(json.dumps(train_worker(json.loads(args.train_worker))))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.readme_only:
        report.write_readme(json.loads((args.out / "results.json").read_text()), args.out / "README.md")
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    load, wall = load_average(), time.perf_counter()
    inputs = load_inputs(args)
    mode = "tiny T5" if args.tiny else "flan-t5-base shape, random weights"
    print(f"benchmarks: model {mode}, dataset {inputs['settings'].dataset}, {torch.get_num_threads()} threads")
    results = run_sections(args, inputs)
    payload = dict(
        machine=machine_info(), run=run_card(args, inputs, time.perf_counter() - wall, load), results=results
    )
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    report.write_readme(payload, args.out / "README.md")
    load_line = report.load_line(payload["machine"], payload["run"])
    print(f"\n{report.table(results)}\n\n{report.details(results)}\n{load_line}")
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
