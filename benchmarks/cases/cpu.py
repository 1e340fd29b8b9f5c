"""The machine's matmul peak and section 4, CPU options: grad modes, threads, bf16 autocast, int8."""

from __future__ import annotations

import contextlib
import copy
import warnings

from benchmarks.measure import best_time, entry
from benchmarks.shapes import Sizes


def bench_matmul(sizes: Sizes, results: list, context: dict) -> None:
    """Matrix-multiply peak (fp32, bf16), the ceiling the other figures are compared with."""
    import torch

    n = sizes.matmul_n
    peaks = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        seconds = best_time(lambda a=a, b=b: torch.mm(a, b), repeats=max(3, sizes.repeats))
        peaks[str(dtype).split(".")[-1]] = 2 * n**3 / seconds / 1e9
    context["matmul_peak_gflops"] = peaks
    results.append(
        entry(
            "matmul peak",
            "machine",
            "fp32",
            peaks["float32"],
            "bf16",
            peaks["bfloat16"],
            "GFLOP/s",
            True,
            f"torch.mm of two {n}x{n} matrices, all threads, best of {max(3, sizes.repeats)}",
        )
    )


def bench_cpu_options(model, tokenizer, cfg, prompts, sizes: Sizes, results: list) -> None:
    """Section 4: grad modes, thread count, dynamic int8 quantization of the Linear layers."""
    import torch

    from labs_helpers.generation import generate_batched

    torch.manual_seed(0)
    batch_prompts = prompts[: sizes.cpu_dialogues]
    enc = tokenizer(
        batch_prompts, return_tensors="pt", padding=True, truncation=True, max_length=sizes.cpu_input_tokens
    )
    labels = torch.randint(3, 4000, (len(batch_prompts), sizes.cpu_new_tokens))

    def forward(m=model):
        return m(**enc, labels=labels).logits

    modes = {
        "none (autograd on)": contextlib.nullcontext,
        "torch.no_grad": torch.no_grad,
        "torch.inference_mode": torch.inference_mode,
    }
    times = {}
    for label, ctx in modes.items():

        def run(ctx=ctx):
            with ctx():
                forward()

        times[label] = best_time(run, sizes.repeats)
    shape = (
        f"forward pass, {len(batch_prompts)} dialogues x {enc.input_ids.shape[1]} tokens, "
        f"{sizes.cpu_new_tokens} decoder tokens"
    )
    results.append(
        entry(
            "grad mode: no_grad vs none",
            "4 cpu options",
            "none (autograd on)",
            times["none (autograd on)"],
            "torch.no_grad",
            times["torch.no_grad"],
            "s",
            False,
            shape,
        )
    )
    results.append(
        entry(
            "grad mode: inference_mode vs no_grad",
            "4 cpu options",
            "torch.no_grad",
            times["torch.no_grad"],
            "torch.inference_mode",
            times["torch.inference_mode"],
            "s",
            False,
            shape,
        )
    )

    def gen(m=model):
        return generate_batched(
            m,
            tokenizer,
            batch_prompts,
            batch_size=len(batch_prompts),
            max_new_tokens=sizes.cpu_new_tokens,
            min_new_tokens=sizes.cpu_new_tokens,
            do_sample=False,
            progress=False,
        )

    gen_shape = f"batched generation, {len(batch_prompts)} dialogues x {sizes.cpu_new_tokens} new tokens"
    threads = torch.get_num_threads()
    by_threads = {}
    for n in sorted({1, threads}):
        torch.set_num_threads(n)
        by_threads[n] = best_time(gen, sizes.repeats)
    torch.set_num_threads(threads)
    results.append(
        entry(
            f"threads: {threads} vs 1",
            "4 cpu options",
            "1 thread",
            by_threads[1],
            f"{threads} threads",
            by_threads[threads],
            "s",
            False,
            gen_shape,
        )
    )

    with torch.inference_mode():
        fp32_logits = forward()
        fp32_tokens = model.generate(
            **enc, max_new_tokens=sizes.cpu_new_tokens, min_new_tokens=sizes.cpu_new_tokens, do_sample=False
        )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16_time = best_time(gen, sizes.repeats)
    results.append(
        entry(
            "generation: bf16 autocast vs fp32",
            "4 cpu options",
            "fp32",
            by_threads[threads],
            "bf16 autocast",
            bf16_time,
            "s",
            False,
            gen_shape,
        )
    )

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao; still works
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    int8_time = best_time(lambda q=quantized: gen(q), sizes.repeats)
    with torch.inference_mode():
        int8_logits = forward(quantized)
        int8_tokens = quantized.generate(
            **enc, max_new_tokens=sizes.cpu_new_tokens, min_new_tokens=sizes.cpu_new_tokens, do_sample=False
        )
    agree = (fp32_tokens == int8_tokens).float().mean().item() if fp32_tokens.shape == int8_tokens.shape else 0.0
    same_argmax = (fp32_logits.argmax(-1) == int8_logits.argmax(-1)).float().mean().item()
    diff = (fp32_logits - int8_logits).abs()
    results.append(
        entry(
            "dynamic int8 quantization (Linear)",
            "4 cpu options",
            "fp32",
            by_threads[threads],
            "int8 dynamic",
            int8_time,
            "s",
            False,
            gen_shape + "; output change on random weights: see the extra fields",
            identical_greedy_tokens=agree,
            same_argmax_teacher_forced=same_argmax,
            max_logit_diff=diff.max().item(),
            mean_logit_diff=diff.mean().item(),
            logit_std=fp32_logits.std().item(),
        )
    )
    del quantized
