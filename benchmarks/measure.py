"""What is measured and how it is recorded: useful FLOPs, peak memory, the machine and its load, one entry."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any, Sequence

from benchmarks.alternation import compare

_START = time.perf_counter()


def log(message: str) -> None:
    """A progress line with the seconds since the run started."""
    print(f"[{time.perf_counter() - _START:6.1f} s] {message}", flush=True)


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
    candidate: str,
    unit: str,
    higher_is_better: bool,
    samples: tuple[Sequence[float], Sequence[float]],
    note: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """One results.json entry from paired samples (baseline, candidate) in ``unit``; ``speedup`` > 1: candidate wins."""
    baseline_samples, candidate_samples = samples
    c = compare(baseline_samples, candidate_samples, higher_is_better)
    return dict(
        name=name,
        section=section,
        baseline=baseline,
        baseline_value=significant(c.baseline),  # the median of the samples
        candidate=candidate,
        candidate_value=significant(c.candidate),
        unit=unit,
        higher_is_better=higher_is_better,
        speedup=round(c.speedup, 3),
        interval=[round(c.low, 3), round(c.high, 3)],
        noisy=c.noisy,
        pairs=c.pairs,
        baseline_spread=round(c.baseline_spread, 4),
        candidate_spread=round(c.candidate_spread, 4),
        baseline_samples=[significant(v) for v in baseline_samples],
        candidate_samples=[significant(v) for v in candidate_samples],
        note=note,
        **{k: (significant(v) if isinstance(v, float) else v) for k, v in extra.items()},
    )


def load_average() -> list[float]:
    """The machine's load average over 1, 5 and 15 minutes (runnable processes; compare with the cores)."""
    return [round(x, 2) for x in os.getloadavg()]


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
