"""Benchmarks: the course lab's patterns against the kit's, on a model with flan-t5-base's shape.

Run ``make bench`` (or ``.venv/bin/python benchmarks/run.py``). It prints a table, writes
``benchmarks/results.json`` and regenerates ``benchmarks/README.md`` from that JSON.

The model is ``T5ForConditionalGeneration`` built from flan-t5-base's configuration with random
weights (no download; the same compute per token as the real model). Token ids come from the
kit's stand-in tokenizer, whose ids (< 4,000) are valid in the 32,128-token vocabulary. The
dialogues are real: ``LABS_DATASET`` when set, else the sample in ``data/``.

Options: ``--quick`` (a smoke run: a few dialogues and tokens, one training step),
``--tiny`` (a tiny T5 instead of flan-t5-base's shape; for the test suite), ``--out DIR``
(where results.json and README.md go), ``--sections gen,eval,cpu,train``, ``--readme-only``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT_ROOT = HERE.parent

# google/flan-t5-base's config.json, written out by hand (no download).
FLAN_T5_BASE = dict(
    vocab_size=32128,
    d_model=768,
    d_kv=64,
    d_ff=2048,
    num_layers=12,
    num_decoder_layers=12,
    num_heads=12,
    feed_forward_proj="gated-gelu",
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    tie_word_embeddings=False,
    dropout_rate=0.1,
    layer_norm_epsilon=1e-6,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)
TINY = dict(FLAN_T5_BASE, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4)


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does (full run, --quick, --tiny)."""

    gen_dialogues: int = 48  # batched path: dialogues generated (3 batches: length sorting at work)
    long_dialogues: int = 32  # the long-output variant: dialogues for the batched path ...
    long_new_tokens: int = 128  # ... and new tokens (the lab allows up to 200)
    seq_dialogues: int = 4  # one-at-a-time path: dialogues generated (a length-spread subset)
    new_tokens: int = 32  # fixed new tokens per dialogue (min_new_tokens = max_new_tokens)
    eval_batch_size: int = 16  # the kit's default (settings.eval_batch_size)
    train_batch: int = 2
    train_steps: int = 2  # timed steps, after one warm-up step
    cpu_dialogues: int = 4  # CPU-options benchmarks: batch of dialogues ...
    cpu_new_tokens: int = 16  # ... and new tokens
    cpu_input_tokens: int = 128  # forward-pass benchmark: encoder tokens per dialogue
    repeats: int = 2  # timed repeats (best is kept) for the short measurements
    matmul_n: int = 2048


FULL = Sizes()
QUICK = Sizes(
    gen_dialogues=4,
    long_dialogues=4,
    long_new_tokens=12,
    seq_dialogues=2,
    new_tokens=8,
    eval_batch_size=4,
    train_batch=1,
    train_steps=1,
    cpu_dialogues=2,
    cpu_new_tokens=4,
    cpu_input_tokens=32,
    repeats=1,
    matmul_n=512,
)
TINY_SIZES = dataclasses.replace(QUICK, gen_dialogues=3, eval_batch_size=3, new_tokens=4, matmul_n=256)


# ----------------------------------------------------------------------------- helpers

_START = time.perf_counter()


def log(message: str) -> None:
    """A progress line with the seconds since the run started."""
    print(f"[{time.perf_counter() - _START:6.1f} s] {message}", flush=True)


def best_time(fn, repeats: int, warmup: int = 1) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def build_model(config: dict, seed: int):
    """A randomly initialised T5 with ``config``; lm_head untied from the embedding as in FLAN-T5."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(T5Config(**config))
    if model.lm_head.weight is model.shared.weight:  # transformers 5 ties a newly built T5; FLAN-T5 is untied
        model.lm_head.weight = torch.nn.Parameter(model.shared.weight.detach().clone())
    model.generation_config = GenerationConfig(decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)
    return model.eval()


def t5_flops(cfg: dict, enc_len: int, dec_len: int) -> float:
    """Forward FLOPs (2 per multiply-add) of T5 for one sequence: matmuls and attention, no norms/softmax."""
    d, dff, hd, vocab = cfg["d_model"], cfg["d_ff"], cfg["num_heads"] * cfg["d_kv"], cfg["vocab_size"]
    n_ffn = 3 if cfg["feed_forward_proj"].startswith("gated") else 2
    enc = enc_len * (4 * d * hd + n_ffn * d * dff) * 2 + 2 * 2 * enc_len * enc_len * hd
    causal = dec_len * (dec_len + 1) / 2  # positions each new token attends to, summed
    dec = (
        dec_len * (4 * d * hd + n_ffn * d * dff) * 2
        + 2 * 2 * causal * hd  # self-attention + FFN
        + dec_len * 2 * d * hd * 2
        + enc_len * 2 * d * hd * 2  # cross q, o ; k, v (once)
        + 2 * 2 * dec_len * enc_len * hd
    )  # cross scores and values
    return cfg["num_layers"] * enc + cfg["num_decoder_layers"] * dec + 2 * dec_len * d * vocab


def significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (small timings keep their precision)."""
    return float(f"{value:.{digits}g}")


def entry(
    name: str,
    section: str,
    baseline: str,
    baseline_value: float,
    candidate: str,
    candidate_value: float,
    unit: str,
    higher_is_better: bool,
    note: str = "",
    **extra,
) -> dict:
    """One results.json entry; ``speedup`` > 1 means the candidate is better."""
    if higher_is_better:
        speedup = candidate_value / baseline_value if baseline_value else float("nan")
    else:
        speedup = baseline_value / candidate_value if candidate_value else float("nan")
    return dict(
        name=name,
        section=section,
        baseline=baseline,
        baseline_value=significant(baseline_value),
        candidate=candidate,
        candidate_value=significant(candidate_value),
        unit=unit,
        higher_is_better=higher_is_better,
        speedup=round(speedup, 3),
        note=note,
        **{k: (significant(v) if isinstance(v, float) else v) for k, v in extra.items()},
    )


def machine_info() -> dict:
    """CPU model, cores, torch/transformers versions."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", "x86_64", platform.machine()):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    features = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f" {f} " in f" {flags} "]
    return dict(
        cpu=cpu,
        cpu_features=features,
        cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        transformers=transformers.__version__,
        python=platform.python_version(),
        platform=platform.platform(),
    )


# ----------------------------------------------------------------------------- benchmarks


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


def bench_evaluation(test_split, gen: dict, sizes: Sizes, results: list) -> None:
    """Section 3: the lab's row-by-row evaluation vs one generation per unique dialogue."""
    from labs_helpers import group_references
    from labs_helpers.metrics import rouge_scores

    unique = group_references(test_split)
    n_rows, n_unique = len(test_split), len(unique)
    # Predictions to score: the batched outputs, reused cyclically over the whole split (the
    # scoring time depends on text lengths only).
    outputs = gen["batched"]
    per_dialogue = {d: outputs[i % len(outputs)] for i, d in enumerate(unique["dialogue"])}

    start = time.perf_counter()
    row_scores = rouge_scores([per_dialogue[d] for d in test_split["dialogue"]], list(test_split["summary"]))
    rows_rouge_seconds = time.perf_counter() - start
    start = time.perf_counter()
    # The kit: 500 generations, each scored against the rows of its dialogue (the very numbers
    # the lab computes, since greedy decoding gives the same text for the same dialogue) ...
    same_scores = rouge_scores([per_dialogue[d] for d in test_split["dialogue"]], list(test_split["summary"]))
    kit_rouge_seconds = time.perf_counter() - start
    start = time.perf_counter()
    # ... or against all three references at once (best reference counts; a different metric).
    rouge_scores([per_dialogue[d] for d in unique["dialogue"]], list(unique["references"]))
    multi_seconds = time.perf_counter() - start

    lab_seconds = n_rows * gen["seq_seconds_per_dialogue"] + rows_rouge_seconds
    kit_seconds = n_unique * gen["batch_seconds_per_dialogue"] + kit_rouge_seconds
    results.append(
        entry(
            "evaluation of the test split",
            "3 evaluation",
            f"lab: row by row, {n_rows} generations",
            lab_seconds,
            f"kit: {n_unique} unique dialogues, batched",
            kit_seconds,
            "s",
            False,
            "EXTRAPOLATED: generations x the per-dialogue times measured in section 1, plus ROUGE "
            f"measured on all {n_rows} rows; the same ROUGE numbers (greedy output repeats per dialogue)",
            rows=n_rows,
            unique_dialogues=n_unique,
            rouge_rows_seconds=rows_rouge_seconds,
            rouge_three_references_seconds=multi_seconds,
            same_rouge=row_scores == same_scores,
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
    lab_inputs = tokenizer(prompts, padding="max_length", truncation=True, return_tensors="pt").input_ids
    lab_labels = tokenizer(summaries, padding="max_length", truncation=True, return_tensors="pt").input_ids
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
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=32,
                lora_alpha=32,
                target_modules=["q", "v"],
                lora_dropout=0.05,
                bias="none",
                task_type=TaskType.SEQ_2_SEQ_LM,
            ),
        )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5 if not spec["lora"] else 1e-3)
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
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def run_train_case(spec: dict, timeout: float) -> dict:
    """Run ``train_worker`` in a child process, so each case has its own peak memory."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore", TRANSFORMERS_VERBOSITY="error")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--train-worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=KIT_ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"training worker {spec['name']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
    for kind, label in (("full", "full fine-tuning"), ("lora", "LoRA r=32 q,v")):
        lab, dyn = out[f"{kind}-lab"], out[f"{kind}-dynamic"]
        mult = 3 if kind == "full" else 2  # forward + backward (weights' gradients too for full)
        flops = sum(mult * t5_flops(cfg, i, n) for i, n in data["lengths"][sizes.train_batch :] or data["lengths"])
        results.append(
            entry(
                f"training: {label}",
                "2 training",
                "lab: pad to 512",
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


# ----------------------------------------------------------------------------- report


def table(results: list[dict]) -> str:
    """The entries as a Markdown table."""
    lines = [
        "| benchmark | baseline | value | candidate | value | unit | speedup |",
        "|---|---|---:|---|---:|---|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['baseline']} | {r['baseline_value']:.4g} | {r['candidate']} | "
            f"{r['candidate_value']:.4g} | {r['unit']} | {r['speedup']:.2f}x |"
        )
    return "\n".join(lines)


def find(results: list[dict], name: str) -> dict | None:
    """The entry called ``name``, or None."""
    return next((r for r in results if r["name"] == name), None)


def details(results: list[dict]) -> str:
    """The extra figures: FLOP/s fractions, memory, output changes."""
    out = []
    for gen in (r for r in results if r["name"].startswith("generation throughput")):
        out.append(
            f"- {gen['name']} ({gen['new_tokens']} new tokens), achieved vs the fp32 matmul peak: lab "
            f"{gen['baseline_gflops']:.1f} GFLOP/s ({gen['baseline_fraction_of_peak']:.1%}), kit "
            f"{gen['candidate_gflops']:.1f} GFLOP/s ({gen['candidate_fraction_of_peak']:.1%}); mean input "
            f"{gen['baseline_mean_input_tokens']:.0f} / {gen['candidate_mean_input_tokens']:.0f} tokens; identical "
            f"texts (lab vs kit): {gen['identical_outputs']}. The encoder alone takes "
            f"{gen['baseline_encoder_share']:.0%} of the lab's time, a share batching cannot shrink much (it "
            f"already multiplies hundreds of tokens at once), so the speedup is bounded near "
            f"{1 / gen['baseline_encoder_share']:.1f}x; batching pays in the decoder, which goes one token at a time."
        )
    for r in results:
        if "baseline_peak_rss_mib" in r:
            extra = (
                f"; useful GFLOP/s {r['baseline_useful_gflops']:.1f} vs {r['candidate_useful_gflops']:.1f}"
                if "baseline_useful_gflops" in r
                else f"; first loss {r['baseline_first_loss']:.4f} vs {r['candidate_first_loss']:.4f}"
            )
            out.append(
                f"- {r['name']}: peak resident memory {r['baseline_peak_rss_mib']:.0f} MiB ({r['baseline']}) vs "
                f"{r['candidate_peak_rss_mib']:.0f} MiB ({r['candidate']}){extra}."
            )
    ev = find(results, "evaluation of the test split")
    if ev:
        out.append(
            f"- Evaluation: ROUGE itself takes {ev['rouge_rows_seconds']:.2f} s for {ev['rows']} rows "
            f"({ev['rouge_three_references_seconds']:.2f} s for {ev['unique_dialogues']} dialogues x 3 references); "
            f"same ROUGE numbers both ways: {ev['same_rouge']}."
        )
    q = find(results, "dynamic int8 quantization (Linear)")
    if q:
        out.append(
            f"- int8: {q['identical_greedy_tokens']:.1%} identical greedy tokens, "
            f"{q['same_argmax_teacher_forced']:.1%} "
            f"same argmax (teacher-forced); logit diff max {q['max_logit_diff']:.3g}, mean {q['mean_logit_diff']:.3g} "
            f"(logit std {q['logit_std']:.3g}). Random weights: a trained model's sensitivity differs."
        )
    return "\n".join(out)


def recommendations(results: list[dict]) -> str:
    """What the measurements say about the kit's defaults (derived from the numbers, not assumed)."""
    lines = []
    for gen in (r for r in results if r["name"].startswith("generation throughput")):
        verdict = "keep it" if gen["speedup"] >= 1 else "revisit it"
        lines.append(
            f"- Generation ({gen['new_tokens']} new tokens): batched, length-sorted generation is "
            f"{gen['speedup']:.1f}x the lab's loop at eval batch size "
            f"{gen['candidate'].split('(')[1].split(')')[0]}: {verdict}."
        )
    ev = find(results, "evaluation of the test split")
    if ev:
        lines.append(
            f"- Evaluation: generate once per unique dialogue ({ev['speedup']:.1f}x less time for the same ROUGE)."
        )
    for kind in ("full fine-tuning", "LoRA r=32 q,v"):
        r = find(results, f"training: {kind}")
        if r:
            lines.append(
                f"- Training ({kind}): dynamic padding gives {r['speedup']:.1f}x the real tokens/s of padding to 512."
            )
    bf = find(results, "training step: bf16 autocast vs fp32")
    if bf:
        advice = (
            "worth it on CPUs with bf16 matmul units (avx512_bf16 / AMX): opt in with LABS_DTYPE=bfloat16 "
            "(training then autocasts in bf16). The default stays fp32 on CPU, so that the notebooks' "
            "checked equalities (attention by hand, the greedy loop against generate) stay exact"
            if bf["speedup"] > 1.1
            else "not worth it here; keep fp32 on CPU"
        )
        lines.append(f"- bf16 autocast for training on this CPU: {bf['speedup']:.2f}x, {advice}.")
    th = find(results, "threads: 2 vs 1") or next((r for r in results if r["name"].startswith("threads:")), None)
    if th:
        advice = (
            "leave torch's default (all cores)"
            if th["speedup"] >= 1
            else "one thread was faster here (a busy machine?)"
        )
        lines.append(f"- Threads: {th['candidate']} {th['speedup']:.2f}x vs 1 thread: {advice}.")
    im = find(results, "grad mode: inference_mode vs no_grad")
    if im:
        lines.append(
            f"- torch.inference_mode vs no_grad: {im['speedup']:.2f}x (a small effect; the kit uses inference_mode)."
        )
    q = find(results, "dynamic int8 quantization (Linear)")
    if q:
        lines.append(
            f"- Dynamic int8: {q['speedup']:.2f}x generation speed, outputs change (see above): "
            "an option to show, not a default."
        )
    return "\n".join(lines)


README_HEAD = """# Benchmarks

`make bench` (or `.venv/bin/python benchmarks/run.py`) measures the course lab's own patterns
against the kit's, prints a table, writes `benchmarks/results.json` and regenerates this file
from it (the numbers below are the last run's; `--readme-only` rewrites this file from the JSON).
`--quick` is a smoke run (a few dialogues and tokens; its numbers mean little).

## What is measured, and how

- **Model.** `T5ForConditionalGeneration` built from `google/flan-t5-base`'s configuration,
  written out by hand (vocabulary 32,128, d_model 768, d_kv 64, d_ff 2,048, 12 + 12 layers,
  12 heads, gated-GELU, 32 relative-position buckets, max distance 128, untied LM head:
  ~248 M parameters) with **random weights**: nothing is downloaded, and the compute per token
  is the real model's. Random weights never stop early, so every generation runs a fixed number
  of new tokens (`min_new_tokens = max_new_tokens`), greedy, in both paths.
- **Tokens.** FLAN-T5's tokenizer cannot be downloaded offline, so token ids come from the kit's
  stand-in tokenizer (`labs.resolve_model(settings, dataset)`; 4,000 pieces, ids valid in the 32,128
  vocabulary). Compute per token is the same; the *token counts* are the stand-in tokenizer's.
- **Data.** Real dialogues: `LABS_DATASET` if set, else the sample in `data/`.
- **1 Generation.** The lab's pattern (tokenize one prompt, `model.generate`, decode, next) vs
  the kit's `labs_helpers.generation.generate_batched` (length-sorted batches of `eval_batch_size`,
  attention masks, `torch.inference_mode`). Dialogues/s for each. The lab's loop is timed on a
  subset spread over the length range (it is the slow one); the rate does not depend on how many
  dialogues there are. Achieved GFLOP/s = useful FLOPs / wall time, where useful FLOPs are
  counted analytically for the real (unpadded) tokens: 2 FLOPs per multiply-add in the q/k/v/o
  projections, the gated FFN (3 matrices), attention scores and values (causal in the decoder),
  cross-attention (keys and values once per dialogue) and the LM head; norms and softmax are
  left out. The fraction is of an fp32 `torch.mm` peak measured in the same run. The comparison
  runs twice: with 32 new tokens (a typical DialogSum summary) and with 128 (the lab allows 200),
  because batching shares the decoder's per-token work, not the encoder's, so its gain grows with
  the length of the output. The encoder's share of the lab's time is measured to show the bound.
- **2 Training.** Real (non-padding input + label) tokens/s of AdamW steps on the same training
  examples, batched the same way: the lab's tokenization (inputs *and* labels padded to 512,
  pad ids left in the labels, so the lab also trains on padding) vs `DataCollatorForSeq2Seq`
  (pad to the longest in the batch, labels padded with -100). Full fine-tuning and LoRA (r=32,
  alpha 32, q and v, as in the lab). Each case runs in its own process; peak resident memory is
  that process's `ru_maxrss` (model, optimizer state, activations). Also: the same full
  fine-tuning step under `torch.autocast("cpu", dtype=torch.bfloat16)` vs fp32.
- **3 Evaluation.** The lab's row-by-row evaluation of the test split (one generation per row:
  1,500 on DialogSum, each dialogue three times) vs one generation per unique dialogue (500),
  batched. Greedy decoding gives the same text for the same dialogue, so scoring each unique
  prediction against its dialogue's rows gives *the same ROUGE* (checked: `same_rouge`).
  A full-size model on 2 cores cannot generate 1,500 summaries inside `make bench`, so this
  entry is **extrapolated**: generations x the per-dialogue times measured in section 1, plus
  ROUGE measured on the whole split.
- **4 CPU options.** A forward pass with autograd on / `torch.no_grad` / `torch.inference_mode`;
  batched generation with 1 thread vs all; bf16 autocast vs fp32 for generation; dynamic int8
  quantization of the Linear layers (`torch.ao.quantization.quantize_dynamic`): speed, and how
  much the outputs change (identical greedy tokens, same argmax, logit differences; on random
  weights, so a trained model's sensitivity may differ).

Times are the best of a few repeats after a warm-up where the benchmark repeats; the training
steps follow one warm-up step. On a shared machine the numbers move: run `make bench` on a quiet one.
"""


def write_readme(payload: dict, path: Path) -> None:
    """benchmarks/README.md from results.json's content, so the two never disagree."""
    m, run = payload["machine"], payload["run"]
    machine = (
        f"- CPU: {m['cpu']} ({', '.join(m['cpu_features']) or 'no AVX-512/AMX flags'}), {m['cores']} cores, "
        f"torch threads {m['torch_threads']}\n- torch {m['torch']}, transformers {m['transformers']}, "
        f"Python {m['python']}, {m['platform']}\n- run: {run['date']}, mode {run['mode']}, "
        f"{run['wall_seconds']:.0f} s in all; model {run['model']}; dataset {run['dataset']}; "
        f"tokenizer {run['tokenizer']}"
    )
    text = (
        README_HEAD
        + "\n## Machine (last run)\n\n"
        + machine
        + "\n\n## Results (last run)\n\n"
        + "`speedup` > 1 means the candidate (right) beats the baseline (left).\n\n"
        + table(payload["results"])
        + "\n\n"
        + details(payload["results"])
        + "\n\n## What the numbers say about the kit's defaults\n\n"
        + recommendations(payload["results"])
        + "\n"
    )
    path.write_text(text)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; print the table; write results.json and README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few dialogues and tokens")
    parser.add_argument("--tiny", action="store_true", help="a tiny T5 instead of flan-t5-base's shape (tests)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.json and README.md")
    parser.add_argument("--sections", default="gen,eval,cpu,train", help="comma-separated: gen,eval,cpu,train")
    parser.add_argument("--readme-only", action="store_true", help="rewrite README.md from results.json")
    parser.add_argument("--train-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.train_worker:
        print(json.dumps(train_worker(json.loads(args.train_worker))))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.readme_only:
        write_readme(json.loads((args.out / "results.json").read_text()), args.out / "README.md")
        return 0

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    import labs_helpers as labs
    from labs_helpers.prompting import format_prompt
    from labs_helpers.settings import make_settings

    hf_logging.set_verbosity_error()
    # Offline unless asked otherwise: the instant stand-in's tokenizer (seconds to build), no Hub probe.
    settings = make_settings(
        dict(
            os.environ,
            LABS_PROFILE=os.environ.get("LABS_PROFILE") or "offline",
            LABS_STANDIN=os.environ.get("LABS_STANDIN") or "instant",
        )
    )
    sizes = TINY_SIZES if args.tiny else QUICK if args.quick else FULL
    cfg = TINY if args.tiny else FLAN_T5_BASE
    sections = set(args.sections.split(","))
    wall = time.perf_counter()
    dataset = labs.load_dialogsum(settings.dataset)
    tokenizer_path = labs.resolve_model(settings, dataset)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    unique = labs.group_references(dataset["test"])
    prompts = [format_prompt("finetune", d) for d in unique["dialogue"][: sizes.gen_dialogues]]

    print(
        f"benchmarks: model {'tiny T5' if args.tiny else 'flan-t5-base shape, random weights'}, "
        f"dataset {settings.dataset}, {torch.get_num_threads()} threads, mode {'quick' if args.quick else 'full'}",
        flush=True,
    )
    results: list[dict] = []
    context: dict = {}
    log("matmul peak")
    bench_matmul(sizes, results, context)
    model = build_model(cfg, settings.seed) if sections & {"gen", "eval", "cpu"} else None
    gen = None
    if sections & {"gen", "eval"}:
        log("generation")
        gen = bench_generation(model, tokenizer, cfg, prompts, sizes, results, context)
    if "gen" in sections:
        log("generation, long outputs")
        bench_generation(
            model,
            tokenizer,
            cfg,
            prompts[: sizes.long_dialogues],
            sizes,
            results,
            context,
            new_tokens=sizes.long_new_tokens,
            name="generation throughput, long outputs",
        )
    if "eval" in sections:
        log("evaluation")
        bench_evaluation(dataset["test"], gen, sizes, results)
    if "cpu" in sections:
        log("cpu options")
        bench_cpu_options(model, tokenizer, cfg, prompts, sizes, results)
    del model
    if "train" in sections:
        bench_training(
            tokenizer, cfg, dataset["train"], sizes, settings.seed, results, timeout=900, in_process=args.tiny
        )

    payload = dict(
        machine=machine_info(),
        run=dict(
            date=time.strftime("%Y-%m-%d %H:%M"),
            mode="tiny" if args.tiny else "quick" if args.quick else "full",
            wall_seconds=round(time.perf_counter() - wall, 1),
            model="tiny T5 (test)" if args.tiny else "flan-t5-base configuration, random weights",
            dataset=str(settings.dataset),
            tokenizer="kit stand-in" if settings.uses_standin else settings.model,
            sizes=dataclasses.asdict(sizes),
            load_average=list(os.getloadavg()),
        ),
        results=results,
    )
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    write_readme(payload, args.out / "README.md")
    print()
    print(table(results))
    print()
    print(details(results))
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
