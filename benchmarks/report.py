"""The report: the results table, the extra figures, what they say about the kit's defaults, the README."""

from __future__ import annotations

import string
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "README.template.md"


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
    for r in results:
        if r["name"].startswith("training: "):  # one entry per kind of training (full, LoRA)
            kind = r["name"].removeprefix("training: ")
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
    text = string.Template(TEMPLATE.read_text()).substitute(
        machine=machine,
        table=table(payload["results"]),
        details=details(payload["results"]),
        recommendations=recommendations(payload["results"]),
    )
    path.write_text(text)
