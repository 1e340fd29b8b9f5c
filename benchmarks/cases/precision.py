"""Section 1, precision rows: the kit's default inference path against the lab's loop, bf16 weights against autocast."""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import TYPE_CHECKING, Any, Callable

from benchmarks.alternation import alternate, rates
from benchmarks.cases.generation import bench_generation, kit_generate
from benchmarks.measure import entry, t5_flops
from benchmarks.shapes import Sizes

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_PATH = "generation: the kit's default path"
BF16_WEIGHTS = "generation: bf16 weights vs bf16 autocast"


def bench_precisions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    cfg: dict[str, Any],
    prompts: list[str],
    sizes: Sizes,
    results: list[dict[str, Any]],
    context: dict[str, Any],
    autocast_mode: str,
) -> None:
    """Both precision rows: the default path (``autocast_mode``: the settings' LABS_AUTOCAST), then bf16 weights."""
    from labs_helpers.device import BF16_GENERATION, generation_precision

    precision = generation_precision(autocast_mode)
    bench_generation(model, tokenizer, cfg, prompts, sizes, results, context, name=DEFAULT_PATH, precision=precision)
    results[-1].update(settings_autocast=autocast_mode, bf16_generation=BF16_GENERATION)
    bench_bf16_weights(model, tokenizer, cfg, prompts, sizes, results, context)
    results[-1].update(bf16_generation=BF16_GENERATION)


def batched_case(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    sizes: Sizes,
    precision: str,
    outputs: dict[str, list[str]],
) -> Callable[[], None]:
    """A call of the kit's batched generation in ``precision`` that keeps its texts in ``outputs[precision]``."""

    def run() -> None:
        outputs[precision] = kit_generate(model, tokenizer, prompts, sizes.eval_batch_size, sizes.new_tokens, precision)

    return run


def copy_seconds(model: PreTrainedModel) -> float:
    """Seconds to make the bf16 copy that ``bf16-weights`` makes once per call (part of its timed path)."""
    from labs_helpers.device import bf16_copy

    start = time.perf_counter()
    bf16_copy(model)
    return time.perf_counter() - start


def bench_bf16_weights(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    cfg: dict[str, Any],
    prompts: list[str],
    sizes: Sizes,
    results: list[dict[str, Any]],
    context: dict[str, Any],
) -> None:
    """Batched generation on a bf16 copy of the weights vs bf16 autocast on the fp32 weights, same prompts."""
    from labs_helpers.device import native_bf16

    outputs: dict[str, list[str]] = {}
    names = ("bf16-autocast", "bf16-weights")
    cases = {p: batched_case(model, tokenizer, prompts, sizes, p, outputs) for p in names}
    warm = dataclasses.replace(sizes, new_tokens=2)  # a short warm-up of each instead of a whole untimed round
    for p in names:
        batched_case(model, tokenizer, prompts[:2], warm, p, {})()
    seconds = alternate(cases, rounds=sizes.gen_rounds, warmup=0)
    lengths = [len(ids) for ids in tokenizer(prompts, truncation=True).input_ids]
    flops = sum(t5_flops(cfg, n, sizes.new_tokens) for n in lengths) / 1e9
    peak = context["matmul_peak_gflops"]["bfloat16"]
    gflops = {p: flops / statistics.median(seconds[p]) for p in names}
    same = sum(a == b for a, b in zip(outputs["bf16-autocast"], outputs["bf16-weights"]))
    results.append(
        entry(
            BF16_WEIGHTS,
            "1 generation",
            f"bf16 autocast, fp32 weights, batched ({sizes.eval_batch_size})",
            "bf16 weights (a bf16 copy per call)",
            "dialogues/s",
            True,
            (rates(len(prompts), seconds["bf16-autocast"]), rates(len(prompts), seconds["bf16-weights"])),
            f"greedy, {sizes.new_tokens} new tokens each, {len(prompts)} dialogues; the copy is timed with its "
            f"path; {sizes.gen_rounds} alternated rounds; native bf16: {native_bf16('cpu') or 'no (emulated)'}",
            baseline_gflops=gflops["bf16-autocast"],
            candidate_gflops=gflops["bf16-weights"],
            baseline_fraction_of_peak=gflops["bf16-autocast"] / peak,
            candidate_fraction_of_peak=gflops["bf16-weights"] / peak,
            identical_outputs=f"{same}/{len(prompts)}",
            copy_seconds=copy_seconds(model),
            new_tokens=sizes.new_tokens,
        )
    )
