"""Section 2: training steps, padding to 512 (the lab) against dynamic padding (the kit); bf16 autocast."""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from pathlib import Path

from benchmarks.measure import entry, log, peak_rss_mib, t5_flops
from benchmarks.shapes import Sizes, build_model
from benchmarks.workers import run_train_case
from labs_helpers import course

LAB_PAD = course.MAX_INPUT_TOKENS  # the lab pads inputs and labels to the model's maximum length
LORA_LABEL = f"LoRA r={course.LORA['r']} {','.join(course.LORA['target_modules'])}"  # "LoRA r=32 q,v"


def make_training_batches(tokenizer, train_split, sizes: Sizes, seed: int) -> dict:
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


def train_worker(spec: dict) -> dict:
    """In a fresh process: build the model, run 1 + N training steps, report time and peak memory."""
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
    batches = data[spec["padding"]]
    times, losses = [], []
    for batch in batches:
        start = time.perf_counter()
        with autocast():
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        losses.append(float(loss))
    timed = times[1:] or times  # the first step warms up
    tokens = sum(data["real_tokens"][1:] if len(times) > 1 else data["real_tokens"])
    return dict(
        seconds=sum(timed),
        real_tokens=tokens,
        tokens_per_s=tokens / sum(timed),
        first_loss=losses[0],
        trainable=sum(p.numel() for p in params),
        peak_rss_mib=peak_rss_mib(),
    )


def bench_training(
    tokenizer, cfg, train_split, sizes: Sizes, seed: int, results: list, timeout: float, in_process: bool = False
) -> None:
    """Section 2: padding to 512 (the lab) vs dynamic padding (the kit), full and LoRA; bf16 autocast."""
    import torch

    data = make_training_batches(tokenizer, train_split, sizes, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batches.pt"
        torch.save(data, path)
        base = dict(config=cfg, seed=seed, batches=str(path), threads=torch.get_num_threads())
        cases = {
            "full-lab": dict(lora=False, padding="lab", bf16=False),
            "full-dynamic": dict(lora=False, padding="dynamic", bf16=False),
            "lora-lab": dict(lora=True, padding="lab", bf16=False),
            "lora-dynamic": dict(lora=True, padding="dynamic", bf16=False),
            "full-dynamic-bf16": dict(lora=False, padding="dynamic", bf16=True),
        }
        out = {}
        for name, case in cases.items():
            log(f"training: {name}")
            spec = dict(base, name=name, **case)
            # --tiny (the test suite) saves five interpreter starts; its memory figures are not separate.
            out[name] = train_worker(spec) if in_process else run_train_case(spec, timeout)

    steps = len(data["real_tokens"]) - 1 or 1
    shape = (
        f"batch {sizes.train_batch}, {steps} timed step(s) after a warm-up; real = non-padding input + label tokens; "
        f"the lab pads to {data['lab'][0]['input_ids'].shape[1]} + {data['lab'][0]['labels'].shape[1]}"
    )
    for kind, label in (("full", "full fine-tuning"), ("lora", LORA_LABEL)):
        lab, dyn = out[f"{kind}-lab"], out[f"{kind}-dynamic"]
        mult = 3 if kind == "full" else 2  # forward + backward (weights' gradients too for full)
        flops = sum(mult * t5_flops(cfg, i, n) for i, n in data["lengths"][sizes.train_batch :] or data["lengths"])
        results.append(
            entry(
                f"training: {label}",
                "2 training",
                f"lab: pad to {LAB_PAD}",
                lab["tokens_per_s"],
                "kit: dynamic padding",
                dyn["tokens_per_s"],
                "real tokens/s",
                True,
                shape,
                baseline_peak_rss_mib=lab["peak_rss_mib"],
                candidate_peak_rss_mib=dyn["peak_rss_mib"],
                baseline_useful_gflops=flops / lab["seconds"] / 1e9,
                candidate_useful_gflops=flops / dyn["seconds"] / 1e9,
                trainable_parameters=dyn["trainable"],
            )
        )
    fp32, bf16 = out["full-dynamic"], out["full-dynamic-bf16"]
    results.append(
        entry(
            "training step: bf16 autocast vs fp32",
            "2 training",
            "fp32",
            fp32["tokens_per_s"],
            "bf16 autocast",
            bf16["tokens_per_s"],
            "real tokens/s",
            True,
            "full fine-tuning, dynamic padding; " + shape,
            baseline_peak_rss_mib=fp32["peak_rss_mib"],
            candidate_peak_rss_mib=bf16["peak_rss_mib"],
            baseline_first_loss=fp32["first_loss"],
            candidate_first_loss=bf16["first_loss"],
        )
    )
