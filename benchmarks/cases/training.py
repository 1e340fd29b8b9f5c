"""Section 2: training steps, padding to 512 (the lab) against dynamic padding (the kit); bf16 autocast."""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.measure import entry, log, peak_rss_mib, t5_flops
from benchmarks.shapes import Sizes, build_model
from benchmarks.workers import run_train_case
from labs_helpers import course

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

LAB_PAD = course.MAX_INPUT_TOKENS  # the lab pads inputs and labels to the model's maximum length
LORA_LABEL = f"LoRA r={course.LORA['r']} {','.join(course.LORA['target_modules'])}"  # "LoRA r=32 q,v"


def make_training_batches(
    tokenizer: PreTrainedTokenizerBase, train_split: Dataset, sizes: Sizes, seed: int
) -> dict[str, Any]:
    """The lab's tokenization (padding to 512, pad ids in the labels) and the kit's dynamic padding."""
    from transformers import DataCollatorForSeq2Seq

    from labs_helpers.prompting import format_prompt

    n = sizes.train_batch * (sizes.train_steps + 1)
    rows = list(range(len(train_split)))
    random.Random(seed).shuffle(rows)
    rows = [rows[i % len(rows)] for i in range(n)]
    prompts = [format_prompt("finetune", train_split[i]["dialogue"]) for i in rows]
    summaries = [train_split[i]["summary"] for i in rows]
    # The lab: tokenize_function pads inputs and labels to max_length (512) and keeps only these two.
    lab_inputs = tokenizer(
        prompts, padding="max_length", max_length=LAB_PAD, truncation=True, return_tensors="pt"
    ).input_ids
    lab_labels = tokenizer(
        summaries, padding="max_length", max_length=LAB_PAD, truncation=True, return_tensors="pt"
    ).input_ids
    features = [
        dict(tokenizer(p, truncation=True), labels=tokenizer(text_target=s, truncation=True).input_ids)
        for p, s in zip(prompts, summaries)
    ]
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, return_tensors="pt")
    b = sizes.train_batch
    lab, dynamic, real_tokens = [], [], []
    for start in range(0, n, b):
        lab.append(dict(input_ids=lab_inputs[start : start + b], labels=lab_labels[start : start + b]))
        batch = collator(features[start : start + b])
        dynamic.append({k: v for k, v in batch.items()})
        real_tokens.append(int(batch["attention_mask"].sum()) + int((batch["labels"] != -100).sum()))
    lengths = [(len(f["input_ids"]), len(f["labels"])) for f in features]
    return dict(
        lab=lab,
        dynamic=dynamic,
        real_tokens=real_tokens,
        lengths=lengths,
        padded_tokens=[int(x["input_ids"].numel() + x["labels"].numel()) for x in lab],
    )


def train_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: build the model, run 1 + N training steps, report each step's time and peak memory."""
    import torch

    torch.set_num_threads(spec["threads"])
    data = torch.load(spec["batches"], weights_only=False)
    model = build_model(spec["config"], spec["seed"]).train()
    if spec["lora"]:
        from peft import get_peft_model

        model = get_peft_model(model, course.lora_config())
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=course.LORA_LEARNING_RATE if spec["lora"] else course.FULL_LEARNING_RATE)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if spec["bf16"] else contextlib.nullcontext
    times, losses = [], []
    for batch in data[spec["padding"]]:
        start = time.perf_counter()
        with autocast():
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))
    return dict(
        step_seconds=times[1:],  # the first step warms up
        first_loss=losses[0],
        trainable=sum(p.numel() for p in params),
        peak_rss_mib=peak_rss_mib(),
    )


# Each round runs these in this order, so the compared pairs (full lab/dynamic, full dynamic fp32/bf16,
# LoRA lab/dynamic) run back to back, round after round: A B A B ...
CASES = {
    "full-lab": dict(lora=False, padding="lab", bf16=False),
    "full-dynamic": dict(lora=False, padding="dynamic", bf16=False),
    "full-dynamic-bf16": dict(lora=False, padding="dynamic", bf16=True),
    "lora-lab": dict(lora=True, padding="lab", bf16=False),
    "lora-dynamic": dict(lora=True, padding="dynamic", bf16=False),
}


def run_rounds(base: dict[str, Any], rounds: int, timeout: float, in_process: bool) -> dict[str, dict[str, Any]]:
    """Every case once per round; per case, its step times over all rounds and its peak memory."""
    out: dict[str, dict[str, Any]] = {name: dict(step_seconds=[], peak_rss_mib=0.0) for name in CASES}
    for r in range(rounds):
        for name, case in CASES.items():
            log(f"training: {name}, round {r + 1} of {rounds}")
            spec = dict(base, name=name, **case)
            # --tiny (the test suite) saves the interpreter starts; its memory figures are not separate.
            got = train_worker(spec) if in_process else run_train_case(spec, timeout)
            out[name]["step_seconds"] += got["step_seconds"]
            out[name].update(first_loss=got["first_loss"], trainable=got["trainable"])
            out[name]["peak_rss_mib"] = max(out[name]["peak_rss_mib"], got["peak_rss_mib"])
    return out


def bench_training(
    tokenizer: PreTrainedTokenizerBase,
    cfg: dict[str, Any],
    train_split: Dataset,
    sizes: Sizes,
    seed: int,
    results: list[dict[str, Any]],
    timeout: float,
    in_process: bool = False,
) -> None:
    """Section 2: padding to 512 (the lab) vs dynamic padding (the kit), full and LoRA; bf16 autocast."""
    import torch

    data = make_training_batches(tokenizer, train_split, sizes, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batches.pt"
        torch.save(data, path)
        base = dict(config=cfg, seed=seed, batches=str(path), threads=torch.get_num_threads())
        out = run_rounds(base, sizes.train_rounds, timeout, in_process)
    # The timed steps' real tokens and lengths (the first batch warms up), repeated for each round.
    tokens = data["real_tokens"][1:] * sizes.train_rounds
    b = sizes.train_batch
    per_step = [data["lengths"][i : i + b] for i in range(b, len(data["lengths"]), b)] * sizes.train_rounds
    shape = (
        f"batch {b}, {len(data['real_tokens']) - 1} timed step(s) after a warm-up, in each of {sizes.train_rounds} "
        f"alternated rounds (a process per case and round); real = non-padding input + label tokens; "
        f"the lab pads to {data['lab'][0]['input_ids'].shape[1]} + {data['lab'][0]['labels'].shape[1]}"
    )
    for kind, label in (("full", "full fine-tuning"), ("lora", LORA_LABEL)):
        mult = 3 if kind == "full" else 2  # forward + backward (weights' gradients too for full)
        flops = [sum(mult * t5_flops(cfg, i, n) for i, n in step) for step in per_step]
        results.append(padding_entry(label, out[f"{kind}-lab"], out[f"{kind}-dynamic"], tokens, flops, shape))
    results.append(bf16_entry(out, tokens, shape))


def rates_per_step(work: list[float], case: dict[str, Any]) -> list[float]:
    """Work per second of each timed step (``work`` lists each step's work, round after round)."""
    return [w / s for w, s in zip(work, case["step_seconds"], strict=True)]


def padding_entry(
    label: str, lab: dict[str, Any], dyn: dict[str, Any], tokens: list[float], flops: list[float], shape: str
) -> dict[str, Any]:
    """The lab's padding to 512 against dynamic padding, for one kind of training (full or LoRA)."""
    return entry(
        f"training: {label}",
        "2 training",
        f"lab: pad to {LAB_PAD}",
        "kit: dynamic padding",
        "real tokens/s",
        True,
        (rates_per_step(tokens, lab), rates_per_step(tokens, dyn)),
        shape,
        baseline_peak_rss_mib=lab["peak_rss_mib"],
        candidate_peak_rss_mib=dyn["peak_rss_mib"],
        baseline_useful_gflops=statistics.median(rates_per_step(flops, lab)) / 1e9,
        candidate_useful_gflops=statistics.median(rates_per_step(flops, dyn)) / 1e9,
        trainable_parameters=dyn["trainable"],
    )


def bf16_entry(out: dict[str, dict[str, Any]], tokens: list[float], shape: str) -> dict[str, Any]:
    """The same full fine-tuning steps under bf16 autocast against fp32."""
    fp32, bf16 = out["full-dynamic"], out["full-dynamic-bf16"]
    return entry(
        "training step: bf16 autocast vs fp32",
        "2 training",
        "fp32",
        "bf16 autocast",
        "real tokens/s",
        True,
        (rates_per_step(tokens, fp32), rates_per_step(tokens, bf16)),
        "full fine-tuning, dynamic padding; " + shape,
        baseline_peak_rss_mib=fp32["peak_rss_mib"],
        candidate_peak_rss_mib=bf16["peak_rss_mib"],
        baseline_first_loss=fp32["first_loss"],
        candidate_first_loss=bf16["first_loss"],
    )
