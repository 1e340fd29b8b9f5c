"""What is measured and how it is recorded: wall time, useful FLOPs, peak memory, the machine, one entry."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any, Callable

_START = time.perf_counter()


def log(message: str) -> None:
    """A progress line with the seconds since the run started."""
    print(f"[{time.perf_counter() - _START:6.1f} s] {message}", flush=True)


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def t5_flops(cfg: dict[str, Any], enc_len: int, dec_len: int) -> float:
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


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    **extra: Any,
) -> dict[str, Any]:
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


def machine_info() -> dict[str, Any]:
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
