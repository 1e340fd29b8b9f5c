"""benchmarks/: a tiny smoke run of run.py writes well-formed results.json and README.md; FLOP counts add up;
alternated timing gives intervals and noise flags as it should (on synthetic samples); the modules keep the
kit's layout rules.

No timing assertions: timings belong in the benchmark, not in the test suite.
"""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys

import pytest

from benchmarks import alternation, measure, report, shapes
from labs_helpers.settings import KIT_ROOT

RUNNER = KIT_ROOT / "benchmarks" / "run.py"
ALTERNATION_KEYS = {  # what alternated timing adds to an entry
    "interval",
    "noisy",
    "pairs",
    "baseline_spread",
    "candidate_spread",
    "baseline_samples",
    "candidate_samples",
}
ENTRY_KEYS = {
    "name",
    "section",
    "baseline",
    "baseline_value",
    "candidate",
    "candidate_value",
    "unit",
    "higher_is_better",
    "speedup",
    "note",
} | ALTERNATION_KEYS


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, settings, standin_path):
    out = tmp_path_factory.mktemp("bench")
    # The same settings as the session's stand-in (standin_path), so its tokenizer is reused, not rebuilt.
    env = dict(
        os.environ,
        LABS_PROFILE="offline",
        LABS_STANDIN="instant",
        LABS_DATASET=settings.dataset,
        LABS_CACHE=str(settings.cache_dir),
        LABS_SEED=str(settings.seed),
        TOKENIZERS_PARALLELISM="false",
    )
    proc = subprocess.run(
        # Every section but contention (tests/test_benchmark_contention.py: its 36 child processes take minutes).
        [sys.executable, str(RUNNER), "--tiny", "--out", str(out), "--sections", "gen,eval,cpu,train,course"],
        capture_output=True,
        text=True,
        env=env,
        cwd=KIT_ROOT,
        timeout=900,
    )  # a safety net, not a timing check
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_results_json_structure(tiny_run):
    out, _ = tiny_run
    payload = json.loads((out / "results.json").read_text())
    assert {"cpu", "cores", "torch"} <= set(payload["machine"])
    assert payload["run"]["mode"] == "tiny"
    for key in ("load_average_before", "load_average_after"):
        assert len(payload["run"][key]) == 3 and all(x >= 0 for x in payload["run"][key]), key
    names = {r["name"] for r in payload["results"]}
    assert {
        "matmul peak",
        "generation throughput",
        "evaluation of the test split",
        "training: full fine-tuning",
        "training: LoRA r=32 q,v",
        "training step: bf16 autocast vs fp32",
        "dynamic int8 quantization (Linear)",
        "grad mode: inference_mode vs no_grad",
        "generation: the kit's default path",
        "generation: bf16 weights vs bf16 autocast",
    } <= names
    for r in payload["results"]:
        assert ENTRY_KEYS <= set(r), r["name"]
        assert r["baseline_value"] > 0 and r["candidate_value"] > 0, r["name"]
        ratio = r["candidate_value"] / r["baseline_value"]
        expected = ratio if r["higher_is_better"] else 1 / ratio
        assert math.isclose(r["speedup"], expected, rel_tol=0.01, abs_tol=0.002), r["name"]
        assert r["pairs"] == len(r["baseline_samples"]) == len(r["candidate_samples"]) >= 2, r["name"]
        low, high = r["interval"]
        assert 0 < low <= high, r["name"]
        # The JSON rounds the interval to 3 decimals: judge the flag only where no unrounded interval
        # behind these figures could fall on the other side of the threshold.
        narrowest, widest = (high - 5e-4) / (low + 5e-4), (high + 5e-4) / max(low - 5e-4, 1e-9)
        if not narrowest <= 1 + alternation.NOISY_WIDTH <= widest:
            assert r["noisy"] == (high / low > 1 + alternation.NOISY_WIDTH), r["name"]
    training = [r for r in payload["results"] if r["name"].startswith("training")]
    assert all(r["baseline_peak_rss_mib"] > 0 and r["candidate_peak_rss_mib"] > 0 for r in training)
    evaluation = next(r for r in payload["results"] if r["name"] == "evaluation of the test split")
    assert evaluation["same_rouge"] is True
    assert "EXTRAPOLATED" in evaluation["note"]
    cost = next(r for r in payload["results"] if r["name"] == "course profile: notebooks 04 + 05")
    assert "ESTIMATED" in cost["note"] and cost["padding_share_grouped"] < cost["padding_share_random"]
    for label in ("today", "cut"):
        parts = cost["minutes_by_part_first_round"][label]
        assert set(parts) == {"04", "05"} and all(
            set(p) == {"training", "validation", "generation"} for p in parts.values()
        )


def test_the_precision_rows(tiny_run):
    from labs_helpers.device import generation_precision

    out, _ = tiny_run
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    default = results["generation: the kit's default path"]
    # The precision the run card chooses here (the tests' LABS_AUTOCAST, else the CPU's), against the lab's fp32 loop.
    assert default["precision"] == generation_precision(default["settings_autocast"])
    assert default["peak"] == ("float32" if default["precision"] == "fp32" else "bfloat16")
    assert 0 < default["candidate_fraction_of_peak"] and default["new_tokens"] == shapes.TINY_SIZES.new_tokens
    weights = results["generation: bf16 weights vs bf16 autocast"]
    same, n = map(int, weights["identical_outputs"].split("/"))
    assert n == shapes.TINY_SIZES.gen_dialogues and 0 <= same <= n and weights["copy_seconds"] >= 0
    assert weights["candidate_gflops"] > 0 and 0 < weights["baseline_fraction_of_peak"]


def test_precision_advice_names_the_faster_only_on_a_clear_win_and_the_default_in_use():
    row = dict(name="generation: bf16 weights vs bf16 autocast", identical_outputs="40/48", bf16_generation="x")
    assert "faster here: bf16 weights; the default" in report.advice(dict(row, speedup=1.3, interval=[1.1, 1.4]))
    assert "faster here: neither" in report.advice(dict(row, speedup=1.1, interval=[0.95, 1.2]))
    assert "faster here: bf16 autocast" in report.advice(dict(row, speedup=0.8, interval=[0.7, 0.9]))
    assert "BF16_GENERATION): x." in report.advice(dict(row, speedup=1.3, interval=[1.1, 1.4]))
    default = dict(name="generation: the kit's default path", speedup=3.0, precision="bf16-autocast", new_tokens=32)
    text = report.advice(dict(default, candidate_fraction_of_peak=0.3, peak="bfloat16"))
    assert "3.0x the lab's fp32 loop" in text and "30% of the bf16 matmul peak" in text


def table_row(r: dict) -> str:
    """The table's row for an entry, from the speedup on: speedup, interval, noise flag."""
    low, high = r["interval"]
    return f"| {r['speedup']:.2f}x | {low:.2f}–{high:.2f}x | {'noisy' if r['noisy'] else ''} |"


def test_readme_is_generated_from_the_json(tiny_run):
    out, stdout = tiny_run
    payload = json.loads((out / "results.json").read_text())
    readme = (out / "README.md").read_text()
    for r in payload["results"]:
        for text in (readme, stdout):  # each ratio printed with its interval and noise flag
            row = next(line for line in text.splitlines() if line.startswith(f"| {r['name']} | {r['baseline']} |"))
            assert row.endswith(table_row(r)), row
    assert payload["machine"]["torch"] in readme
    before = " / ".join(f"{x:.2f}" for x in payload["run"]["load_average_before"])
    assert f"load average (1, 5, 15 min): {before} before" in readme
    assert "$" not in readme  # every placeholder of README.template.md filled
    (out / "README.md").unlink()
    subprocess.run([sys.executable, str(RUNNER), "--readme-only", "--out", str(out)], check=True, timeout=60)
    assert (out / "README.md").read_text() == readme


def test_readme_from_a_results_json_without_intervals(tiny_run, tmp_path):
    # benchmarks/results.json may come from a run before alternated timing: --readme-only still works.
    out, _ = tiny_run
    payload = json.loads((out / "results.json").read_text())
    for key in ("load_average_before", "load_average_after"):
        del payload["run"][key]
    for r in payload["results"]:
        for key in ALTERNATION_KEYS:
            del r[key]
    report.write_readme(payload, tmp_path / "README.md")
    readme = (tmp_path / "README.md").read_text()
    assert "| not measured |" in readme and "Rows without an interval" in readme
    assert "load average: not recorded" in readme


def test_flop_count_matches_the_models_linear_layers():
    import torch

    model = shapes.build_model(shapes.TINY, seed=0)
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()  # untied, as in FLAN-T5
    encoder_linear = sum(m.weight.numel() for m in model.encoder.modules() if isinstance(m, torch.nn.Linear))
    cfg, length = shapes.TINY, 50
    attention = cfg["num_layers"] * 2 * 2 * length * length * cfg["num_heads"] * cfg["d_kv"]
    # Cross-attention keys and values: computed once per encoder token in every decoder layer.
    cross_kv = sum(
        m.weight.numel()
        for name, m in model.decoder.named_modules()
        if isinstance(m, torch.nn.Linear) and "EncDecAttention" in name and name[-1] in "kv"
    )
    assert measure.t5_flops(cfg, length, 0) == 2 * length * (encoder_linear + cross_kv) + attention
    # One decoder token: its Linear layers except cross-attention k/v (computed once per encoder
    # token), the LM head, and attention over itself and the encoder's tokens.
    decoder_linear = sum(m.weight.numel() for m in model.decoder.modules() if isinstance(m, torch.nn.Linear))
    hd, layers = cfg["num_heads"] * cfg["d_kv"], cfg["num_decoder_layers"]
    per_token = 2 * (decoder_linear - layers * 2 * cfg["d_model"] * hd) + 2 * model.lm_head.weight.numel()
    per_token += layers * 2 * 2 * (1 + length) * hd
    assert measure.t5_flops(cfg, length, 1) - measure.t5_flops(cfg, length, 0) == per_token


def test_flan_t5_base_shape():
    from transformers import T5Config

    config = T5Config(**shapes.FLAN_T5_BASE)
    assert (config.vocab_size, config.d_model, config.d_ff, config.num_layers, config.num_heads) == (
        32128,
        768,
        2048,
        12,
        12,
    )
    assert config.is_gated_act  # (transformers 5 ties a new T5 anyway: build_model unties it, tested above)


class FakeClock:
    """A clock that only the cases move: each case call advances it by that case's next duration."""

    def __init__(self, durations: dict[str, list[float]]):
        self.now, self.calls, self.durations = 0.0, [], {k: list(v) for k, v in durations.items()}

    def case(self, name: str):
        def run():
            self.calls.append(name)
            self.now += self.durations[name].pop(0)

        return run


def test_alternate_takes_the_cases_in_turn_after_a_warmup():
    clock = FakeClock({"A": [9.0, 1.0, 1.1, 1.2], "B": [9.0, 0.5, 0.6, 0.7]})
    seconds = alternation.alternate(
        {"A": clock.case("A"), "B": clock.case("B")}, rounds=3, warmup=1, clock=lambda: clock.now
    )
    assert clock.calls == ["A", "B"] * 4  # one untimed round, then A B A B A B
    assert seconds == {"A": pytest.approx([1.0, 1.1, 1.2]), "B": pytest.approx([0.5, 0.6, 0.7])}


def test_a_clean_case_gets_a_tight_interval_and_no_flag():
    baseline = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98]  # seconds, lower is better
    candidate = [0.505, 0.495, 0.50, 0.51, 0.49, 0.50]  # jitter of its own, not proportional
    result = alternation.compare(baseline, candidate, higher_is_better=False)
    assert result.speedup == pytest.approx(2.0, rel=0.01)
    assert 1.9 < result.low <= result.speedup <= result.high < 2.1
    assert result.baseline_spread == pytest.approx(0.02) and result.pairs == 6
    assert not result.noisy


def test_a_spike_in_one_half_of_the_pairs_is_flagged_noisy():
    baseline = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    candidate = [0.5, 0.5, 1.5, 0.5, 1.5, 0.5]  # another job grabbed the cores during two candidate runs
    result = alternation.compare(baseline, candidate, higher_is_better=False)
    assert result.speedup == pytest.approx(2.0)  # the median alone would hide it ...
    assert result.low < 1.5 and result.noisy  # ... the interval does not


def test_a_slowdown_of_whole_rounds_keeps_the_ratio_tight():
    # Rounds 4-6 ran at a third of the speed, for both halves alike: the medians move, the ratio does not.
    baseline = [1.0, 1.0, 1.0, 3.0, 3.0, 3.0]
    candidate = [0.5, 0.5, 0.5, 1.5, 1.5, 1.5]
    result = alternation.compare(baseline, candidate, higher_is_better=False)
    assert (result.low, result.high) == (pytest.approx(2.0), pytest.approx(2.0))
    assert result.baseline_spread == pytest.approx(0.5) and not result.noisy  # ±50% samples, a tight ratio


def test_rates_invert_the_direction_and_one_pair_is_never_a_finding():
    fast = alternation.compare([10.0, 10.0], [20.0, 20.0], higher_is_better=True)  # tokens/s: higher wins
    assert fast.speedup == pytest.approx(2.0) and not fast.noisy
    single = alternation.compare([1.0], [0.5], higher_is_better=False)
    assert (single.low, single.high) == (2.0, 2.0) and single.noisy
    with pytest.raises(ValueError, match="not paired"):
        alternation.interval([1.0, 1.0], [1.0], higher_is_better=False)


def test_benchmark_modules_keep_the_layout_rules():
    # The kit's rules (README, *Layout*; tests/test_layout.py checks the package): modules of at most
    # 300 lines, functions of at most 50, a one-line docstring on each public module-level function.
    folder = KIT_ROOT / "benchmarks"
    # make bench's own modules (other scripts in benchmarks/ are not part of it)
    modules = [folder / "run.py", *(folder / "cases").glob("*.py")]
    modules += [folder / f"{name}.py" for name in ("__init__", "alternation", "measure", "report", "shapes", "workers")]
    for path in sorted(modules):
        source = path.read_text()
        module = ast.parse(source)
        assert len(source.splitlines()) <= 300, path.name
        for node in ast.walk(module):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 50, f"{path.name}: {node.name}"
        for node in module.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                doc = ast.get_docstring(node)
                assert doc and "\n" not in doc, f"{path.name}: {node.name}"
