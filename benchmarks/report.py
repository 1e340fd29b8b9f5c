"""The report: the results table, the extra figures, what they say about the kit's defaults, the README."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from benchmarks.alternation import NOISY_WIDTH

TEMPLATE = Path(__file__).resolve().parent / "README.template.md"


def table(results: list[dict[str, Any]]) -> str:
    """The entries as a Markdown table: medians ± spread, the speedup, its interval and the noise flag."""
    lines = [
        "| benchmark | baseline | value | candidate | value | unit | speedup | 95% interval | noise |",
        "|---|---|---:|---|---:|---|---:|---:|---|",
    ]
    for r in results:
        base = value(r["baseline_value"], r.get("baseline_spread"))
        cand = value(r["candidate_value"], r.get("candidate_spread"))
        low, high = r.get("interval") or (None, None)
        span = f"{low:.2f}–{high:.2f}x" if low is not None else "–"
        flag = ("noisy" if r["noisy"] else "") if "noisy" in r else "not measured"
        lines.append(
            f"| {r['name']} | {r['baseline']} | {base} | {r['candidate']} | {cand} | {r['unit']} | "
            f"{r['speedup']:.2f}x | {span} | {flag} |"
        )
    return "\n".join(lines)


def value(median: float, spread: float | None) -> str:
    """A median with the spread of its samples (half their range, relative), when there is one."""
    return f"{median:.4g} ±{spread:.0%}" if spread is not None else f"{median:.4g}"


def caveat(r: dict[str, Any]) -> str:
    """What a reader must know before taking an entry as a finding: nothing, or that it was noisy."""
    if not r.get("noisy"):
        return ""
    low, high = r["interval"]
    return f" Noisy here (interval {low:.2f}–{high:.2f}x): not a finding; rerun on a quiet machine."


def noise_rule() -> str:
    """The README's sentence on how values, intervals and the noise flag are made (from the constants used)."""
    return (
        "Values are medians of the samples, taken in alternation (baseline, candidate, baseline, ...), "
        "± half their range. The interval is a 95% bootstrap of the speedup over the alternated pairs; a row is "
        f"`noisy` when its interval's high end is more than {1 + NOISY_WIDTH:.2f}x its low end (or there was a "
        "single pair): a reading to repeat on a quiet machine, not a finding."
    )


def load_line(machine: dict[str, Any], run: dict[str, Any]) -> str:
    """The machine's load average before and after the run, against its cores."""
    before, after = run.get("load_average_before"), run.get("load_average_after")
    if before is None:  # a results.json from before load averages were kept before and after
        end = run.get("load_average")
        return f"- load average (1, 5, 15 min) at the end: {fmt_load(end)}" if end else "- load average: not recorded"
    line = f"- load average (1, 5, 15 min): {fmt_load(before)} before, {fmt_load(after)} after"
    line += f", on {machine['cores']} cores"
    if max(before[0], after[0]) > machine["cores"]:
        line += ": busier than the cores, so the figures are rough (the intervals say how rough)"
    return line


def fmt_load(load: list[float]) -> str:
    """A load average as ``1.2 / 0.8 / 0.5``."""
    return " / ".join(f"{x:.2f}" for x in load)


def find(results: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The entry called ``name``, or None."""
    return next((r for r in results if r["name"] == name), None)


def details(results: list[dict[str, Any]]) -> str:
    """The extra figures: FLOP/s fractions, memory, output changes."""
    out = []
    for gen in (r for r in results if "baseline_encoder_share" in r):  # the lab's loop against the kit's batches
        peak = PEAK_NAMES[gen.get("peak", "float32")]
        out.append(
            f"- {gen['name']} ({gen['new_tokens']} new tokens), achieved vs the matmul peak: lab "
            f"{gen['baseline_gflops']:.1f} GFLOP/s ({gen['baseline_fraction_of_peak']:.1%} of fp32's), kit "
            f"{gen['candidate_gflops']:.1f} GFLOP/s ({gen['candidate_fraction_of_peak']:.1%} of {peak}'s); mean input "
            f"{gen['baseline_mean_input_tokens']:.0f} / {gen['candidate_mean_input_tokens']:.0f} tokens; identical "
            f"texts (lab vs kit): {gen['identical_outputs']}. The encoder alone takes "
            f"{gen['baseline_encoder_share']:.0%} of the lab's time, a share batching cannot shrink much (it "
            f"already multiplies hundreds of tokens at once), so the speedup is bounded near "
            f"{1 / gen['baseline_encoder_share']:.1f}x; batching pays in the decoder, which goes one token at a time."
        )
    w = find(results, "generation: bf16 weights vs bf16 autocast")
    if w:
        out.append(
            f"- bf16 weights vs bf16 autocast ({w['new_tokens']} new tokens): {w['baseline_gflops']:.1f} vs "
            f"{w['candidate_gflops']:.1f} GFLOP/s ({w['baseline_fraction_of_peak']:.1%} vs "
            f"{w['candidate_fraction_of_peak']:.1%} of the bf16 peak); identical greedy texts: "
            f"{w['identical_outputs']}; the bf16 copy itself took {w['copy_seconds']:.2f} s (timed with its path)."
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


PEAK_NAMES = {"float32": "fp32", "bfloat16": "bf16"}  # cpu.bench_matmul's names, as the table calls them

BF16_ADVICE = (
    "worth it on CPUs with bf16 matmul units (avx512_bf16 / AMX): there the kit trains and generates in bf16 "
    "autocast by default (LABS_AUTOCAST; the run card's precision line), while the notebooks' checked "
    "equalities (attention by hand, the greedy loop against generate) stay in fp32"
)


def recommendations(results: list[dict[str, Any]]) -> str:
    """What the measurements say about the kit's defaults (derived from the numbers); noisy rows say so."""
    return "\n".join(f"- {text}{caveat(r)}" for r in results if (text := advice(r)))


def advice(r: dict[str, Any]) -> str | None:
    """The sentence an entry's speedup supports about the kit's defaults, or None for an entry without one."""
    name, x = r["name"], r["speedup"]
    if name in ("generation: the kit's default path", "generation: bf16 weights vs bf16 autocast"):
        return precision_advice(r)
    if name.startswith("generation throughput"):
        batch = r["candidate"].split("(")[1].split(")")[0]
        return (
            f"Generation ({r['new_tokens']} new tokens): batched, length-sorted generation is {x:.1f}x the lab's "
            f"loop at eval batch size {batch}: {'keep it' if x >= 1 else 'revisit it'}."
        )
    if name == "evaluation of the test split":
        return f"Evaluation: generate once per unique dialogue ({x:.1f}x less time for the same ROUGE)."
    if name.startswith("training: "):  # one entry per kind of training (full, LoRA)
        kind, padded = name.removeprefix("training: "), r["baseline"].removeprefix("lab: pad to ")
        return f"Training ({kind}): dynamic padding gives {x:.1f}x the real tokens/s of padding to {padded}."
    if name == "training step: bf16 autocast vs fp32":
        verdict = BF16_ADVICE if x > 1.1 else "not worth it here; keep fp32 on CPU"
        return f"bf16 autocast for training on this CPU: {x:.2f}x, {verdict}."
    if name.startswith("threads:"):
        verdict = "leave torch's default (all cores)" if x >= 1 else "one thread was faster here (a busy machine?)"
        return f"Threads: {r['candidate']} {x:.2f}x vs 1 thread: {verdict}."
    if name == "grad mode: inference_mode vs no_grad":
        return f"torch.inference_mode vs no_grad: {x:.2f}x (a small effect; the kit uses inference_mode)."
    if name == "course profile: notebooks 04 + 05":
        today, cut = (
            sum(sum(p.values()) for p in r["minutes_by_part_first_round"][k].values()) for k in ("today", "cut")
        )
        return (
            f"Course profile (on the machine in its note): notebooks 04 + 05 about {today:.0f} min before the cuts, "
            f"{cut:.0f} min after ({x:.2f}x: {r['candidate'].removeprefix('cut: ')})."
        )
    if name == "dynamic int8 quantization (Linear)":
        return f"Dynamic int8: {x:.2f}x generation speed, outputs change (see above): an option to show, not a default."
    return None


def precision_advice(r: dict[str, Any]) -> str:
    """The sentence for the default-path row or the bf16-weights row (benchmarks/cases/precision.py)."""
    x = r["speedup"]
    if r["name"] == "generation: the kit's default path":
        return (
            f"Default inference path ({r['precision']}, as the settings choose here; batched): {x:.1f}x the lab's "
            f"fp32 loop at {r['new_tokens']} new tokens, {r['candidate_fraction_of_peak']:.0%} of the "
            f"{PEAK_NAMES[r['peak']]} matmul peak (the goal where bf16 is native: 4x and 50%)."
        )
    low, chosen = r.get("interval", [x, x])[0], r.get("bf16_generation", "")
    faster = "bf16 weights" if low > 1 else "bf16 autocast" if r.get("interval", [x, x])[1] < 1 else "neither"
    verdict = f"faster here: {faster}; the default (labs_helpers.device.BF16_GENERATION): {chosen or 'see device.py'}"
    same = r["identical_outputs"]
    return f"bf16 weights vs bf16 autocast for batched generation: {x:.2f}x ({same} identical): {verdict}."


def write_readme(payload: dict[str, Any], path: Path) -> None:
    """benchmarks/README.md from results.json's content (through README.template.md), so the two never disagree."""
    m, run, results = payload["machine"], payload["run"], payload["results"]
    machine = (
        f"- CPU: {m['cpu']} ({', '.join(m['cpu_features']) or 'no AVX-512/AMX flags'}), {m['cores']} cores, "
        f"torch threads {m['torch_threads']}\n- torch {m['torch']}, transformers {m['transformers']}, "
        f"Python {m['python']}, {m['platform']}\n- run: {run['date']}, mode {run['mode']}, "
        f"{run['wall_seconds']:.0f} s in all; model {run['model']}; dataset {run['dataset']}; "
        f"tokenizer {run['tokenizer']}\n{load_line(m, run)}"
    )
    rule = noise_rule()
    sizes = run.get("sizes", {})
    if "rounds" in sizes:
        rule += (
            f" Rounds in this run: {sizes['rounds']} for the short measurements (matmul, CPU options), "
            f"{sizes['gen_rounds']} for generation, {sizes['train_rounds']} processes per training case."
        )
    if any("interval" not in r for r in results):
        rule += (
            " Rows without an interval come from a run before alternated timing (best of a few repeats); "
            "the next `make bench` replaces them."
        )
    text = string.Template(TEMPLATE.read_text()).substitute(
        machine=machine,
        noise_rule=rule,
        table=table(results),
        details=details(results),
        recommendations=recommendations(results),
    )
    path.write_text(text)
