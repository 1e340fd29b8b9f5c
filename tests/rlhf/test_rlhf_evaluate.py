"""Measuring detoxification: bootstrap intervals, the paired difference, the lab's variants, the exact KL."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_policy

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import evaluate as rl_eval
from labs_helpers.rlhf.ppo import PPOConfig, PPOTrainer


class LengthReward:
    """A reward model for tests: longer texts are more 'toxic'."""

    name = "test reward"

    def rewards(self, texts):
        return [-len(t) / 10 for t in texts]

    def toxicity(self, texts):
        return [min(1.0, len(t) / 100) for t in texts]


def test_bootstrap_mean_brackets_the_mean_and_is_seeded():
    values = [0.1, 0.2, 0.3, 0.9]
    low, mean, high = rl_eval.bootstrap_mean(values, seed=1)
    assert low <= mean <= high and mean == pytest.approx(0.375)
    assert rl_eval.bootstrap_mean(values, seed=1) == (low, mean, high)
    assert rl_eval.bootstrap_mean([0.5, 0.5]) == (0.5, 0.5, 0.5)
    with pytest.raises(LabsError, match="No values"):
        rl_eval.bootstrap_mean([])


def test_paired_difference_sees_a_consistent_drop_that_unpaired_spread_would_hide():
    before = [0.1, 0.5, 0.9, 0.3, 0.7]
    after = [b - 0.05 for b in before]
    diff = rl_eval.paired_difference(before, after, seed=0)
    assert diff["mean_difference"] == pytest.approx(-0.05)
    assert diff["high"] < 0 and diff["share_below_zero"] == 1.0
    with pytest.raises(LabsError, match="one pair per dialogue"):
        rl_eval.paired_difference([0.1], [0.1, 0.2])


def test_toxicity_table_and_the_labs_percentage():
    table = rl_eval.toxicity_table({"before": [0.2, 0.6], "after": [0.1, 0.1]}, seed=0)
    assert list(table.index) == ["before", "after"]
    assert table.loc["before", "toxicity mean"] == pytest.approx(0.4)
    assert table.loc["before", "std"] == pytest.approx(0.2) and table.loc["before", "ratio >= 0.5"] == 0.5
    assert rl_eval.percent_improvement(0.4, 0.1) == pytest.approx(75.0)
    assert rl_eval.percent_improvement(0.2, 0.3) < 0
    with pytest.raises(LabsError, match="nothing to improve"):
        rl_eval.percent_improvement(0.0, 0.1)


def test_qualitative_table_is_sorted_by_reward_change():
    table = rl_eval.qualitative_table(["q1", "q2"], ["short", "a long summary"], ["a long one", "tiny"], LengthReward())
    assert list(table["query"]) == ["q2", "q1"]
    assert table["reward change"].iloc[0] > 0 > table["reward change"].iloc[1]


def test_sampled_summaries_repeat_with_the_seed_and_exact_kl_is_zero_then_positive():
    class Ids:
        def batch_decode(self, ids, skip_special_tokens=True):
            return [" ".join(map(str, row.tolist())) for row in ids]

    policy = tiny_policy(40, seed=0)
    queries = [torch.tensor([5, 6, 7, 1]), torch.tensor([8, 9, 1])]
    first = rl_eval.sample_summaries(policy, Ids(), queries, max_new_tokens=6, seed=3, batch_size=1)
    assert first == rl_eval.sample_summaries(policy, Ids(), queries, max_new_tokens=6, seed=3, batch_size=1)
    trainer = PPOTrainer(PPOConfig(batch_size=2, mini_batch_size=1), policy, Ids())
    rollout = trainer.generate(queries, max_new_tokens=6, min_new_tokens=2)
    assert rl_eval.exact_kl(policy, rollout) == 0.0  # fresh adapter: B = 0
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.3)
    assert rl_eval.exact_kl(policy, rollout) > 0


def test_lab_toxicity_runs_as_the_lab_ran_it(standin_path, monkeypatch):
    # The lab re-tokenized the decoded query (two </s>), its misspelt tok_k left top_k at 50, no minimum length.
    from datasets import Dataset
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path)
    queries = [tokenizer.decode(tokenizer(f"Summarize: #Person1#: Hi {i}.").input_ids) for i in range(14)]
    seen = {}
    real = rl_eval.sample_responses

    def spy(model, ids, mask, max_new_tokens, min_new_tokens, tokenizer, top_k=0):
        seen.update(ids=ids, mask=mask, min_new_tokens=min_new_tokens, top_k=top_k, max_new_tokens=max_new_tokens)
        return real(model, ids, mask, max_new_tokens, min_new_tokens, tokenizer, top_k=top_k)

    monkeypatch.setattr(rl_eval, "sample_responses", spy)
    mean, std = rl_eval.lab_toxicity(model, tokenizer, LengthReward(), Dataset.from_dict({"query": queries}), seed=0)
    assert len(seen["ids"]) == 11 and (seen["top_k"], seen["min_new_tokens"], seen["max_new_tokens"]) == (50, 0, 100)
    last_two = [row[int(m.sum()) - 2 : int(m.sum())].tolist() for row, m in zip(seen["ids"], seen["mask"])]
    assert all(pair == [tokenizer.eos_token_id] * 2 for pair in last_two)  # the doubled </s>
    assert 0 <= mean <= 1 and std >= 0
