"""The machine's matmul peak and section 4, CPU options: grad modes, threads, bf16 autocast, int8."""

from __future__ import annotations

import contextlib
import copy
import statistics
import warnings
from typing import TYPE_CHECKING, Any, Callable

from benchmarks.alternation import alternate, rates
from benchmarks.measure import entry
from benchmarks.shapes import Sizes

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Results = list[dict[str, Any]]


def bench_matmul(sizes: Sizes, results: Results, context: dict[str, Any]) -> None:
    """Matrix-multiply peak (fp32, bf16), the ceiling the other figures are compared with."""
    import torch

    n = sizes.matmul_n
    pairs = {
        dtype: (torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)) for dtype in (torch.float32, torch.bfloat16)
    }
    cases = {str(dtype).split(".")[-1]: (lambda a=a, b=b: torch.mm(a, b)) for dtype, (a, b) in pairs.items()}
    rounds = max(3, sizes.rounds)
    gflops = {name: rates(2 * n**3 / 1e9, seconds) for name, seconds in alternate(cases, rounds).items()}
    context["matmul_peak_gflops"] = {name: statistics.median(values) for name, values in gflops.items()}
    results.append(
        entry(
            "matmul peak",
            "machine",
            "fp32",
            "bf16",
            "GFLOP/s",
            True,
            (gflops["float32"], gflops["bfloat16"]),
            f"torch.mm of two {n}x{n} matrices, all threads, {rounds} alternated rounds",
        )
    )


def bench_cpu_options(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    cfg: dict[str, Any],
    prompts: list[str],
    sizes: Sizes,
    results: Results,
) -> None:
    """Section 4: grad modes, thread count, bf16 autocast, dynamic int8 quantization of the Linear layers."""
    import torch

    torch.manual_seed(0)
    batch_prompts = prompts[: sizes.cpu_dialogues]
    enc = tokenizer(
        batch_prompts, return_tensors="pt", padding=True, truncation=True, max_length=sizes.cpu_input_tokens
    )
    labels = torch.randint(3, 4000, (len(batch_prompts), sizes.cpu_new_tokens))

    def forward(m: PreTrainedModel = model) -> torch.Tensor:
        return m(**enc, labels=labels).logits

    bench_grad_modes(forward, sizes, results, f"{len(batch_prompts)} dialogues x {enc.input_ids.shape[1]} tokens")
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao; still works
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    bench_generation_options(model, quantized, tokenizer, batch_prompts, sizes, results)
    changes = int8_changes(model, quantized, enc, forward, sizes.cpu_new_tokens)
    results[-1].update(changes)  # the int8 entry, appended last


def bench_grad_modes(forward: Callable[[], object], sizes: Sizes, results: Results, shape: str) -> None:
    """A forward pass with autograd on, under torch.no_grad and under torch.inference_mode, in turn."""
    import torch

    def under(ctx: Callable[[], contextlib.AbstractContextManager]) -> Callable[[], None]:
        def run() -> None:
            with ctx():
                forward()

        return run

    modes = {"none (autograd on)": contextlib.nullcontext, "torch.no_grad": torch.no_grad}
    modes["torch.inference_mode"] = torch.inference_mode
    seconds = alternate({label: under(ctx) for label, ctx in modes.items()}, sizes.rounds)
    note = f"forward pass, {shape}, {sizes.cpu_new_tokens} decoder tokens; {sizes.rounds} alternated rounds"
    for name, base, cand in (
        ("grad mode: no_grad vs none", "none (autograd on)", "torch.no_grad"),
        ("grad mode: inference_mode vs no_grad", "torch.no_grad", "torch.inference_mode"),
    ):
        results.append(entry(name, "4 cpu options", base, cand, "s", False, (seconds[base], seconds[cand]), note))


def generation_cases(
    model: PreTrainedModel,
    quantized: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    new_tokens: int,
) -> dict[str, Callable[[], None]]:
    """Batched generation of ``prompts`` in fp32 on all threads, bf16 autocast, int8, and on 1 thread (if more)."""
    import torch

    from labs_helpers.generation import generate_batched

    def gen(m: PreTrainedModel = model) -> None:
        n = new_tokens
        generate_batched(
            m, tokenizer, prompts, batch_size=len(prompts), max_new_tokens=n, min_new_tokens=n, progress=False
        )

    def one_thread() -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            gen()
        finally:
            torch.set_num_threads(threads)

    def bf16() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            gen()

    cases = {"fp32": gen, "bf16 autocast": bf16, "int8 dynamic": lambda: gen(quantized)}
    if torch.get_num_threads() > 1:  # on one core there is nothing to compare
        cases["1 thread"] = one_thread
    return cases


def bench_generation_options(
    model: PreTrainedModel,
    quantized: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    sizes: Sizes,
    results: Results,
) -> None:
    """Batched generation: 1 thread, all threads (fp32), bf16 autocast and int8, taken in turn."""
    import torch

    seconds = alternate(generation_cases(model, quantized, tokenizer, prompts, sizes.cpu_new_tokens), sizes.rounds)
    note = f"batched generation, {len(prompts)} dialogues x {sizes.cpu_new_tokens} new tokens; {sizes.rounds} rounds"
    threads = torch.get_num_threads()
    if "1 thread" in seconds:
        name, samples = f"threads: {threads} vs 1", (seconds["1 thread"], seconds["fp32"])
        results.append(entry(name, "4 cpu options", "1 thread", f"{threads} threads", "s", False, samples, note))
    for name, cand in (
        ("generation: bf16 autocast vs fp32", "bf16 autocast"),
        ("dynamic int8 quantization (Linear)", "int8 dynamic"),
    ):
        results.append(entry(name, "4 cpu options", "fp32", cand, "s", False, (seconds["fp32"], seconds[cand]), note))
    results[-1]["note"] += "; output change on random weights: see the extra fields"


def int8_changes(
    model: PreTrainedModel, quantized: PreTrainedModel, enc: Any, forward: Callable[..., Any], new_tokens: int
) -> dict[str, float]:
    """How much int8 changes the outputs: identical greedy tokens, same argmax, logit differences."""
    import torch

    with torch.inference_mode():
        fp32_logits, int8_logits = forward(), forward(quantized)
        fp32_tokens, int8_tokens = (
            m.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
            for m in (model, quantized)
        )
    agree = (fp32_tokens == int8_tokens).float().mean().item() if fp32_tokens.shape == int8_tokens.shape else 0.0
    diff = (fp32_logits - int8_logits).abs()
    return dict(
        identical_greedy_tokens=round(agree, 4),
        same_argmax_teacher_forced=round((fp32_logits.argmax(-1) == int8_logits.argmax(-1)).float().mean().item(), 4),
        max_logit_diff=float(f"{diff.max().item():.4g}"),
        mean_logit_diff=float(f"{diff.mean().item():.4g}"),
        logit_std=float(f"{fp32_logits.std().item():.4g}"),
    )
