"""Section 1: generation, the lab's one dialogue at a time against the kit's length-sorted batches."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

from benchmarks.alternation import alternate, rates
from benchmarks.measure import entry, t5_flops
from benchmarks.shapes import Sizes

# The matmul peak (cpu.bench_matmul) a precision's achieved GFLOP/s is a fraction of.
PEAK_DTYPE = {"fp32": "float32", "bf16-autocast": "bfloat16", "bf16-weights": "bfloat16"}

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def lab_generate_one(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt: str, new_tokens: int
) -> list[int]:
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


def encoder_seconds(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str]) -> float:
    """Seconds for the encoder alone over ``prompts``, one at a time (the part batching cannot share)."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts:
            model.get_encoder()(**tokenizer(prompt, return_tensors="pt"))
    return time.perf_counter() - start


def spread_subset(lengths: list[int], k: int) -> list[int]:
    """``k`` indices spread from the shortest to the longest, so that their mean length is representative."""
    by_length = sorted(range(len(lengths)), key=lambda i: lengths[i])
    k = min(k, len(lengths))
    return sorted({by_length[round(j * (len(lengths) - 1) / max(k - 1, 1))] for j in range(k)})


def kit_generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    batch: int,
    n_new: int,
    precision: str,
) -> list[str]:
    """The kit's batched path, greedy, exactly ``n_new`` new tokens per prompt, in ``precision``."""
    from labs_helpers.generation import generate_batched

    return generate_batched(
        model,
        tokenizer,
        prompts,
        batch_size=batch,
        max_new_tokens=n_new,
        min_new_tokens=n_new,
        do_sample=False,
        num_beams=1,
        progress=False,
        precision=precision,
    )


def time_both_paths(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    seq_idx: list[int],
    sizes: Sizes,
    n_new: int,
    precision: str = "fp32",
) -> dict[str, Any]:
    """The lab's fp32 loop over ``seq_idx`` and the kit's batches in ``precision`` over all ``prompts``, alternated."""
    from labs_helpers.generation import generate_batched

    outputs: dict[str, Any] = {}

    def lab() -> None:
        outputs["lab"] = {i: lab_generate_one(model, tokenizer, prompts[i], n_new) for i in seq_idx}

    def kit() -> None:
        outputs["kit"] = kit_generate(model, tokenizer, prompts, sizes.eval_batch_size, n_new, precision)

    # Short warm-ups (2 new tokens) instead of a whole untimed round: a round of the lab's loop takes minutes.
    lab_generate_one(model, tokenizer, prompts[seq_idx[0]], 2)
    generate_batched(model, tokenizer, prompts[:2], batch_size=2, max_new_tokens=2, progress=False, precision=precision)
    seconds = alternate({"lab": lab, "kit": kit}, rounds=sizes.gen_rounds, warmup=0)
    return dict(seconds, lab_out=outputs["lab"], kit_out=outputs["kit"])


def achieved(
    cfg: dict[str, Any],
    lengths: list[int],
    seq_idx: list[int],
    n_new: int,
    timed: dict[str, Any],
    peaks: dict[str, float],
    precision: str,
) -> dict[str, Any]:
    """Useful GFLOP/s of the lab's loop (fp32) and the kit's batches (``precision``), as fractions of their peaks."""
    lab_s, kit_s = statistics.median(timed["lab"]), statistics.median(timed["kit"])
    lab = sum(t5_flops(cfg, lengths[i], n_new) for i in seq_idx) / lab_s / 1e9
    kit = sum(t5_flops(cfg, n, n_new) for n in lengths) / kit_s / 1e9
    peak = PEAK_DTYPE[precision]
    return dict(
        baseline_gflops=lab,
        candidate_gflops=kit,
        baseline_fraction_of_peak=lab / peaks["float32"],
        candidate_fraction_of_peak=kit / peaks[peak],
        peak=peak,
    )


def bench_generation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    cfg: dict[str, Any],
    prompts: list[str],
    sizes: Sizes,
    results: list[dict[str, Any]],
    context: dict[str, Any],
    new_tokens: int | None = None,
    name: str = "generation throughput",
    precision: str = "fp32",
) -> dict[str, Any]:
    """Section 1: one dialogue at a time (the lab, fp32) vs batched and length-sorted (the kit, ``precision``)."""
    n_new = new_tokens or sizes.new_tokens
    lengths = [len(ids) for ids in tokenizer(prompts, truncation=True).input_ids]
    seq_idx = spread_subset(lengths, sizes.seq_dialogues)
    timed = time_both_paths(model, tokenizer, prompts, seq_idx, sizes, n_new, precision)
    lab_s = statistics.median(timed["lab"])
    encoder_share = encoder_seconds(model, tokenizer, [prompts[i] for i in seq_idx]) / lab_s
    lab_out, kit_out = timed["lab_out"], timed["kit_out"]
    same = sum(tokenizer.decode(lab_out[i], skip_special_tokens=True).strip() == kit_out[i] for i in seq_idx)
    results.append(
        entry(
            name,
            "1 generation",
            "lab: one dialogue at a time",
            f"kit: batched ({sizes.eval_batch_size}), length-sorted"
            + ("" if precision == "fp32" else f", {precision}"),
            "dialogues/s",
            True,
            (rates(len(seq_idx), timed["lab"]), rates(len(prompts), timed["kit"])),
            f"greedy, {n_new} new tokens each; lab timed on {len(seq_idx)} dialogues spread over the length range, "
            f"kit on {len(prompts)}; {sizes.gen_rounds} alternated rounds",
            **achieved(cfg, lengths, seq_idx, n_new, timed, context["matmul_peak_gflops"], precision),
            baseline_mean_input_tokens=statistics.mean(lengths[i] for i in seq_idx),
            candidate_mean_input_tokens=statistics.mean(lengths),
            identical_outputs=f"{same}/{len(seq_idx)}",
            baseline_encoder_share=encoder_share,
            new_tokens=n_new,
            precision=precision,
        )
    )
    # Per dialogue, round by round: the evaluation case extrapolates from these pairs.
    lab_per, kit_per = ([s / n for s in timed[k]] for k, n in (("lab", len(seq_idx)), ("kit", len(prompts))))
    return dict(seq_seconds_per_dialogue=lab_per, batch_seconds_per_dialogue=kit_per, batched=kit_out)
