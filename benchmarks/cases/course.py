"""Section 5: what the course profile costs here (flan-t5-base's shape), per notebook, and what cuts it.

Measured: optimizer steps of the course profile's batch (random batches as today, and batches grouped by
length), the validation loss per example, and batched generation per dialogue. From them, notebooks 04 and
05's training and evaluation time is estimated with the course profile's budgets, before and after the cuts.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.cases.training import rates_per_step
from benchmarks.measure import entry, log
from benchmarks.shapes import build_model
from benchmarks.workers import run_train_case
from labs_helpers import course, finetuning
from labs_helpers.profiles import SIZES

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

COURSE = SIZES["course"]
BATCH, STEPS, EVAL_BATCH = int(COURSE["batch_size"]), int(COURSE["train_steps"]), int(COURSE["eval_batch_size"])
# Generations per notebook on the course profile: 04 scores the original and the fine-tuned model, then
# fp32 and int8 copies for deployment; 05 scores the original, the full fine-tune and the LoRA model.
GENERATIONS = {"04": 4, "05": 3}
SUMMARY_TOKENS = 32  # FLAN-T5's DialogSum summaries end near here (EOS); random weights never stop, so fixed


def features(tokenizer: PreTrainedTokenizerBase, train_split: Dataset, seed: int) -> list[dict[str, list[int]]]:
    """The course profile's training examples, tokenized as notebook 04 does (no padding yet)."""
    rows = random.Random(seed).sample(range(len(train_split)), min(int(COURSE["train_examples"]), len(train_split)))
    tokenize = finetuning.tokenize_function(tokenizer)
    encoded = tokenize(train_split.select(rows)[:])
    return [dict(input_ids=i, labels=lab) for i, lab in zip(encoded["input_ids"], encoded["labels"])]


def grouped_order(lengths: list[int], batch: int, seed: int) -> list[int]:
    """``LengthGroupedSampler``'s order: shuffled, then sorted by length within mega-batches of 50 batches."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    mega = 50 * batch
    return [i for s in range(0, len(order), mega) for i in sorted(order[s : s + mega], key=lambda j: -lengths[j])]


def course_batches(feats: list[dict[str, list[int]]], tokenizer: PreTrainedTokenizerBase, n: int, seed: int) -> dict:
    """``n`` batches of each order (random, grouped by length), padded by the kit's collator, with real tokens."""
    from transformers import DataCollatorForSeq2Seq

    collate = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, return_tensors="pt")
    lengths = [len(f["input_ids"]) + len(f["labels"]) for f in feats]
    shuffled = random.Random(seed).sample(range(len(feats)), len(feats))
    # The Trainer groups by the inputs' length (its model_input_name), as here.
    orders = {"random": shuffled, "grouped": grouped_order([len(f["input_ids"]) for f in feats], BATCH, seed)}
    out: dict[str, Any] = {}
    for name, order in orders.items():
        batches = [order[s : s + BATCH] for s in range(0, len(order) - BATCH + 1, BATCH)]
        picked = random.Random(seed).sample(batches, n)  # the sampler visits batches in random order
        out[name] = [dict(collate([feats[i] for i in b])) for b in picked]
        out[f"{name}_tokens"] = [sum(lengths[i] for i in b) for b in picked]
        out[f"{name}_padded"] = [int(b["input_ids"].numel() + b["labels"].numel()) for b in out[name]]
    out["tokens_per_step"] = statistics.mean(lengths) * BATCH  # the same in both orders, over a whole run
    return out


def time_steps(data: dict, cfg: dict[str, Any], seed: int, rounds: int, timeout: float) -> dict[str, list[float]]:
    """Real tokens/s of optimizer steps, full and LoRA, random and grouped batches, alternated round by round."""
    import torch

    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "course_batches.pt"
        torch.save(data, path)
        for r in range(rounds):
            for kind in ("full", "lora"):
                for order in ("random", "grouped"):
                    log(f"course: {kind} steps, {order} batches, round {r + 1} of {rounds}")
                    spec = dict(config=cfg, seed=seed, batches=str(path), threads=torch.get_num_threads())
                    spec.update(name=f"course-{kind}-{order}", lora=kind == "lora", padding=order, bf16=False)
                    got = run_train_case(spec, timeout)
                    tokens = data[f"{order}_tokens"][1:]
                    rates.setdefault(f"{kind}-{order}", []).extend(rates_per_step(tokens, got))
    return rates


def validation_seconds(model: Any, data: dict, rounds: int) -> list[float]:
    """Seconds per example of the validation loss (forward with labels, no gradients), eval batches of 16."""
    import torch

    batches = data["random"][: max(2, 16 // BATCH)]
    examples = sum(len(b["input_ids"]) for b in batches)
    seconds = []
    with torch.inference_mode():
        model.eval()
        for _ in range(rounds):
            start = time.perf_counter()
            for b in batches:
                model(**b)
            seconds.append((time.perf_counter() - start) / examples)
    return seconds


def generation_seconds(model: Any, tokenizer: PreTrainedTokenizerBase, prompts: list[str], rounds: int) -> list[float]:
    """Seconds per dialogue of the kit's batched greedy generation, one eval batch, SUMMARY_TOKENS each."""
    from labs_helpers.generation import generate_batched

    batch = prompts[:EVAL_BATCH]
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        generate_batched(
            model, tokenizer, batch, EVAL_BATCH, SUMMARY_TOKENS, min_new_tokens=SUMMARY_TOKENS, progress=False
        )
        seconds.append((time.perf_counter() - start) / len(batch))
    return seconds


def notebook_seconds(parts: dict[str, float], notebook: str, validation: int) -> dict[str, float]:
    """One notebook's estimated seconds by part: training, validation during training, generation."""
    kind = "full" if notebook == "04" else "lora"
    evaluations = STEPS // finetuning.schedule(STEPS)["eval_steps"]
    return dict(
        training=STEPS * parts["tokens_per_step"] / parts[f"{kind}_rate"],
        validation=evaluations * validation * parts["validation"],
        generation=GENERATIONS[notebook] * int(COURSE["n_eval"]) * parts["generation"],
    )


def estimates(rates: dict[str, list[float]], val: list[float], gen: list[float], tokens_per_step: float) -> dict:
    """Round by round: 04 + 05's seconds today (random batches, old validation) and with the cuts."""
    old = 10 * int(COURSE["n_eval"])  # the validation budget before the cut: 10 examples per test dialogue
    new = finetuning.validation_budget(int(COURSE["n_eval"]))
    out: dict[str, Any] = {"today": [], "cut": [], "parts": {}}
    rounds = min(len(rates["full-random"]), len(rates["lora-random"]), len(val), len(gen))
    for r in range(rounds):
        for label, order, validation in (("today", "random", old), ("cut", "grouped", new)):
            parts = dict(
                tokens_per_step=tokens_per_step,
                full_rate=rates[f"full-{order}"][r],
                lora_rate=rates[f"lora-{order}"][r],
                validation=val[r],
                generation=gen[r],
            )
            by_notebook = {nb: notebook_seconds(parts, nb, validation) for nb in GENERATIONS}
            out[label].append(sum(sum(p.values()) for p in by_notebook.values()))
            out["parts"].setdefault(label, []).append(by_notebook)
    return out


def bench_course(
    tokenizer: PreTrainedTokenizerBase,
    cfg: dict[str, Any],
    dataset: Any,
    prompts: list[str],
    seed: int,
    rounds: int,
    results: list[dict[str, Any]],
    timeout: float = 1800,
) -> None:
    """Section 5: notebooks 04 + 05 on the course profile, estimated from measured steps; today vs the cuts."""
    feats = features(tokenizer, dataset["train"], seed)
    data = course_batches(feats, tokenizer, n=2, seed=seed)  # one warm-up step and one timed step per process
    rates = time_steps(data, cfg, seed, rounds, timeout)
    model = build_model(cfg, seed)
    log("course: validation loss and generation")
    val, gen = validation_seconds(model, data, rounds), generation_seconds(model, tokenizer, prompts, rounds)
    est = estimates(rates, val, gen, data["tokens_per_step"])
    old, new = 10 * int(COURSE["n_eval"]), finetuning.validation_budget(int(COURSE["n_eval"]))
    minutes = {
        label: {nb: {k: round(v / 60, 1) for k, v in parts.items()} for nb, parts in est["parts"][label][0].items()}
        for label in ("today", "cut")
    }
    results.append(
        entry(
            "course profile: notebooks 04 + 05",
            "5 course cost",
            f"today: random batches, {old} validation examples",
            f"cut: batches grouped by length, {new} validation examples",
            "s",
            False,
            (est["today"], est["cut"]),
            f"ESTIMATED from measured steps: {STEPS} steps of {BATCH}, {len(rates['full-random'])} alternated rounds; "
            f"{int(COURSE['n_eval'])} dialogues x {SUMMARY_TOKENS} new tokens per generation",
            minutes_by_part_first_round=minutes,
            padding_share_random=1 - sum(data["random_tokens"]) / sum(data["random_padded"]),
            padding_share_grouped=1 - sum(data["grouped_tokens"]) / sum(data["grouped_padded"]),
            step_real_tokens_per_s={k: round(statistics.median(v), 1) for k, v in rates.items()},
            validation_seconds_per_example=statistics.median(val),
            generation_seconds_per_dialogue=statistics.median(gen),
            lab_learning_rates=[course.FULL_LEARNING_RATE, course.LORA_LEARNING_RATE],
        )
    )
