"""Section 1: generation, the lab's one dialogue at a time against the kit's length-sorted batches."""

from __future__ import annotations

import statistics
import time

from benchmarks.measure import entry, t5_flops
from benchmarks.shapes import Sizes


def lab_generate_one(model, tokenizer, prompt: str, new_tokens: int) -> list[int]:
    """The course lab's pattern: tokenize one prompt, generate, decode; no batching."""
    from transformers import GenerationConfig

    input_ids = tokenizer(prompt, return_tensors="pt").input_ids
    output = model.generate(
        input_ids,
        generation_config=GenerationConfig(
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            num_beams=1,
            do_sample=False,
            decoder_start_token_id=0,
            eos_token_id=1,
            pad_token_id=0,
        ),
    )
    tokenizer.decode(output[0], skip_special_tokens=True)
    return output[0].tolist()


def encoder_seconds(model, tokenizer, prompts: list[str]) -> float:
    """Seconds for the encoder alone over ``prompts``, one at a time (the part batching cannot share)."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts:
            model.get_encoder()(**tokenizer(prompt, return_tensors="pt"))
    return time.perf_counter() - start


def bench_generation(
    model,
    tokenizer,
    cfg,
    prompts,
    sizes: Sizes,
    results: list,
    context: dict,
    new_tokens: int | None = None,
    name: str = "generation throughput",
) -> dict:
    """Section 1: one dialogue at a time (the lab) vs batched and length-sorted (the kit)."""
    from labs_helpers.generation import generate_batched

    n_new = new_tokens or sizes.new_tokens
    lengths = [len(ids) for ids in tokenizer(prompts, truncation=True).input_ids]
    by_length = sorted(range(len(prompts)), key=lambda i: lengths[i])
    k = min(sizes.seq_dialogues, len(prompts))
    # A subset spread over the length range (shortest to longest), so its mean length is representative.
    seq_idx = sorted({by_length[round(j * (len(prompts) - 1) / max(k - 1, 1))] for j in range(k)})

    lab_generate_one(model, tokenizer, prompts[seq_idx[0]], 2)  # warm-up
    start = time.perf_counter()
    seq_out = {i: lab_generate_one(model, tokenizer, prompts[i], n_new) for i in seq_idx}
    seq_seconds = time.perf_counter() - start

    generate_batched(model, tokenizer, prompts[:2], batch_size=2, max_new_tokens=2, progress=False)  # warm-up
    start = time.perf_counter()
    batched = generate_batched(
        model,
        tokenizer,
        prompts,
        batch_size=sizes.eval_batch_size,
        max_new_tokens=n_new,
        min_new_tokens=n_new,
        do_sample=False,
        num_beams=1,
        progress=False,
    )
    batch_seconds = time.perf_counter() - start

    seq_rate, batch_rate = len(seq_idx) / seq_seconds, len(prompts) / batch_seconds
    encoder_share = encoder_seconds(model, tokenizer, [prompts[i] for i in seq_idx]) / seq_seconds
    seq_flops = sum(t5_flops(cfg, lengths[i], n_new) for i in seq_idx)
    batch_flops = sum(t5_flops(cfg, lengths[i], n_new) for i in range(len(prompts)))
    peak = context["matmul_peak_gflops"]["float32"]
    seq_gflops, batch_gflops = seq_flops / seq_seconds / 1e9, batch_flops / batch_seconds / 1e9
    same = sum(tokenizer.decode(seq_out[i], skip_special_tokens=True).strip() == batched[i] for i in seq_idx)
    results.append(
        entry(
            name,
            "1 generation",
            "lab: one dialogue at a time",
            seq_rate,
            f"kit: batched ({sizes.eval_batch_size}), length-sorted",
            batch_rate,
            "dialogues/s",
            True,
            f"greedy, {n_new} new tokens each; lab timed on {len(seq_idx)} dialogues spread over the length range, "
            f"kit on {len(prompts)}",
            baseline_gflops=seq_gflops,
            candidate_gflops=batch_gflops,
            baseline_fraction_of_peak=seq_gflops / peak,
            candidate_fraction_of_peak=batch_gflops / peak,
            baseline_mean_input_tokens=statistics.mean(lengths[i] for i in seq_idx),
            candidate_mean_input_tokens=statistics.mean(lengths),
            identical_outputs=f"{same}/{len(seq_idx)}",
            baseline_encoder_share=encoder_share,
            new_tokens=n_new,
        )
    )
    return dict(
        seq_seconds_per_dialogue=seq_seconds / len(seq_idx),
        batch_seconds_per_dialogue=batch_seconds / len(prompts),
        batched=batched,
        seq_idx=seq_idx,
    )
