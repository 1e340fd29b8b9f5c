"""The comparison in one call (``rlhf.arena``) and ``benchmarks/rlhf_quality.py``'s spread over seeds."""

from __future__ import annotations

import pytest

from labs_helpers.rlhf import arena, dpo, toxic_slice

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class LengthReward:
    name = "test reward: longer is more toxic"

    def toxicity(self, texts):
        return [min(1.0, len(t) / 40) for t in texts]

    def rewards(self, texts):
        return [-x for x in self.toxicity(texts)]


def test_run_arena_fills_one_row_per_method_with_its_compute(standin_path, tmp_path):
    from datasets import Dataset
    from peft import get_peft_model
    from tiny_models import tiny_lora_config
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from labs_helpers.rlhf.judge import WordListJudge

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(standin_path), tiny_lora_config()).save_pretrained(tmp_path)
    dialogues = [f"#Person1#: a bad day {i}. #Person2#: yes." for i in range(12)]
    split = Dataset.from_dict(
        {"id": [str(i) for i in range(12)], "summary": [f"a bad day, number {i}, for all" for i in range(12)],
         "input_ids": [tokenizer(d).input_ids for d in dialogues]}
    )  # fmt: skip
    part = toxic_slice.select_slice(split, LengthReward(), batch_size=4, held_out=0.25)
    plan = arena.ArenaPlan(seed=1, ppo_steps=1, ppo_lr=1e-3, ppo_batch_size=4, max_new_tokens=6, n_eval=2,
                           dpo=dpo.DPOConfig(batch_size=2, epochs=1), best_of=(2,))  # fmt: skip
    factory = arena.policy_factory(standin_path, tmp_path, "instruct", "cpu")
    table, methods = arena.run_arena(plan, factory, tokenizer, part, LengthReward(), WordListJudge())
    assert [m.name for m in methods] == ["before", "best-of-2", "PPO", "DPO"]
    assert [m.generations for m in methods] == [2, 4, 4 + 2, 4 + 2]
    assert methods[0].kl == pytest.approx(0.0, abs=1e-6) and methods[2].kl > 0
    assert table.index.name == "2 held-out dialogues" and all(len(m.summaries) == 2 for m in methods)


def test_the_benchmark_reports_mean_spread_and_targets():
    from benchmarks import rlhf_quality as bench

    def seed(judge_high, rouge):
        diff = {"mean_difference": judge_high - 0.05, "low": judge_high - 0.1, "high": judge_high}
        row = {c: 1.0 for c in bench.COLUMNS} | {
            "_reward": diff,
            "_judge": diff,
            "_rouge1": diff | {"mean_difference": rouge},
        }
        return {"rows": {"before": row, "PPO": row}}

    good = bench.spread([seed(-0.01, -0.01), seed(-0.02, 0.0), seed(-0.03, -0.02)])
    assert good["PPO"]["toxicity (judge) change"]["highest upper end"] == -0.01
    assert good["PPO"]["ROUGE-1 change"]["mean"] == pytest.approx(-0.01)
    assert all(bench.targets(good).values())
    bad = bench.targets(bench.spread([seed(-0.01, -0.05), seed(0.01, -0.05), seed(-0.03, -0.05)]))
    assert list(bad.values()) == [False, False, False]
