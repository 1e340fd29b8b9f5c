"""Issue 34: the slice where the reward has signal, the judge PPO never saw, best-of-n, DPO and the one table."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import Dataset
from tiny_models import tiny_policy

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import dpo, judge, rivals, toxic_slice

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class WordReward:
    """A reward model for tests: toxicity 0.9 for a text with 'bad', else 0.1; reward = -toxicity."""

    name = "test reward: the word 'bad'"

    def toxicity(self, texts):
        return [0.9 if "bad" in t.split() else 0.1 for t in texts]

    def rewards(self, texts):
        return [-x for x in self.toxicity(texts)]


def test_the_judge_reads_better_profanitys_list_by_whole_words():
    words = judge.word_list()
    assert len(words) > 800 and "stupid" in words and "mom" not in words
    j = judge.WordListJudge()
    assert j.toxicity(["Dick and Susan meet.", "#Person1#'s mom is sick.", "It was stupid."]) == [1.0, 0.0, 1.0]
    assert j.flagged_words("a dog-fucker and Dickens") == ["dog fucker", "fucker"]  # phrases; no part-words
    assert judge.load_judge(offline=True).name == judge.OFFLINE_JUDGE_NAME
    with pytest.raises(LabsError, match="word list is empty"):
        judge.WordListJudge([])


def test_disagreements_show_texts_that_only_one_model_flags():
    texts = ["bad day", "a stupid plan", "bad and stupid", "fine"]
    table = judge.disagreements(texts, WordReward(), judge.WordListJudge())
    assert list(table["summary"]) == ["bad day", "a stupid plan"]
    assert list(table["flagged_by"]) == ["reward model only", "judge only"]


def _split(n_bad: int, n_good: int) -> Dataset:
    summaries = [f"a bad thing {i}" for i in range(n_bad)] + [f"a good thing {i}" for i in range(n_good)]
    return Dataset.from_dict({"id": [str(i) for i in range(len(summaries))], "summary": summaries})


def test_the_slice_keeps_offensive_summaries_and_holds_part_of_them_out():
    part = toxic_slice.select_slice(_split(10, 30), WordReward(), batch_size=4, held_out=0.4)
    assert len(part.train) == 6 and len(part.held_out) == 4
    assert not set(part.train["id"]) & set(part.held_out["id"])
    assert all("bad" in s for s in list(part.train["summary"]) + list(part.held_out["summary"]))
    assert part.slice_mean == pytest.approx(0.9) and part.split_mean == pytest.approx(0.3)
    assert "10 of 40 dialogues (25.0%)" in part.describe() and "6 to train on, 4 held out" in part.describe()
    by_id = dict(zip(_split(10, 30)["id"], _split(10, 30)["summary"]))
    no_summary = _split(10, 30).remove_columns("summary")
    assert len(toxic_slice.select_slice(no_summary, WordReward(), 4, summaries_by_id=by_id).train) == 6


def test_a_slice_smaller_than_a_batch_or_empty_is_refused():
    with pytest.raises(LabsError, match="Only 5 of 35 summaries score above 0.3.*batch of 16"):
        toxic_slice.select_slice(_split(5, 30), WordReward(), batch_size=16)
    with pytest.raises(LabsError, match="Only 0 of 30"):
        toxic_slice.select_slice(_split(0, 30), WordReward(), batch_size=1)
    widened = toxic_slice.select_slice(_split(2, 30), WordReward(), batch_size=4, widen=True)
    assert widened.widened and len(widened.train) >= 4 and len(widened.held_out) >= 1
    assert set(widened.train["summary"]) | set(widened.held_out["summary"]) >= {"a bad thing 0", "a bad thing 1"}
    assert "the highest-scoring were taken" in widened.describe()
    with pytest.raises(LabsError, match="threshold=1.5"):
        toxic_slice.select_slice(_split(10, 30), WordReward(), batch_size=1, threshold=1.5)


def _queries(tokenizer, n=6):
    return [torch.tensor(tokenizer(f"Summarize: #Person1#: Hello {i}, a bad day.").input_ids) for i in range(n)]


def test_best_of_n_keeps_the_best_of_its_draws(standin_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from labs_helpers.rlhf.evaluate import sample_summaries

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path)
    queries, reward = _queries(tokenizer), WordReward()
    best = rivals.best_of_n(model, tokenizer, queries, reward, 3, 8, seed=5)
    draws = [sample_summaries(model, tokenizer, queries, 8, 5 + d) for d in range(3)]
    for i, text in enumerate(best):
        assert text in [d[i] for d in draws] and reward.rewards([text])[0] == max(reward.rewards([d[i] for d in draws]))
    assert rivals.best_of_n(model, tokenizer, queries, reward, 1, 8, seed=5) == draws[0]
    with pytest.raises(LabsError, match="n=0"):
        rivals.best_of_n(model, tokenizer, queries, reward, 0, 8, seed=5)
    assert rivals.best_of_n_kl(1) == 0 and rivals.best_of_n_kl(16) == pytest.approx(math.log(16) - 15 / 16)


def test_dpo_loss_is_log_2_at_the_start_and_falls_as_the_margin_grows():
    zero = torch.zeros(3)
    loss, margins = dpo.dpo_loss(zero, zero, zero, zero, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2)) and margins.tolist() == [0.0] * 3
    better, _ = dpo.dpo_loss(torch.full((3,), 2.0), zero, zero, zero, beta=0.1)
    assert better.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.2))))
    with pytest.raises(LabsError, match="strictly higher"):
        dpo.Preference(torch.ones(2), torch.ones(2), torch.ones(2), 0.5, 0.5)
    with pytest.raises(LabsError, match="batch_size=0"):
        dpo.DPOConfig(batch_size=0)


def test_dpo_raises_the_chosen_summaries_log_ratio_on_a_tiny_policy():
    policy = tiny_policy(seed=1)
    queries = [torch.tensor([5 + i, 6, 7, 1]) for i in range(8)]
    pairs = [dpo.Preference(q, torch.tensor([9, 10, 1]), torch.tensor([11, 12, 1]), 1.0, 0.0) for q in queries]
    chosen_before = dpo.sequence_logprobs(policy, queries, [p.chosen_ids for p in pairs]).detach()
    history = dpo.train_dpo(policy, pairs, dpo.DPOConfig(learning_rate=1e-2, epochs=5, batch_size=4), seed=0)
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # the adapter starts at B = 0: policy = reference
    assert history[-1]["loss"] < 0.6 and history[-1]["accuracy"] == 1.0
    chosen_after = dpo.sequence_logprobs(policy, queries, [p.chosen_ids for p in pairs]).detach()
    assert (chosen_after > chosen_before).all()
    with policy.disable_adapter():  # the reference never moved
        assert torch.allclose(dpo.sequence_logprobs(policy, queries, [p.chosen_ids for p in pairs]), chosen_before)


def test_a_non_finite_dpo_loss_stops_the_run(monkeypatch):
    policy = tiny_policy(seed=1)
    pairs = [dpo.Preference(torch.tensor([5, 1]), torch.tensor([9, 1]), torch.tensor([11, 1]), 1.0, 0.0)] * 4
    monkeypatch.setattr(dpo, "dpo_loss", lambda *a: (torch.tensor(float("nan")), torch.zeros(4)))
    with pytest.raises(LabsError, match="not finite"):
        dpo.train_dpo(policy, pairs, dpo.DPOConfig(batch_size=4), seed=0)
    with pytest.raises(LabsError, match="cannot fill one batch"):
        dpo.train_dpo(policy, pairs, dpo.DPOConfig(batch_size=8), seed=0)


def test_make_pairs_ranks_two_samples_by_the_reward(standin_path):
    from peft import get_peft_model
    from tiny_models import tiny_lora_config
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    policy = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(standin_path), tiny_lora_config())
    queries = _queries(tokenizer, 8)

    class LengthReward:
        name = "length"

        def rewards(self, texts):
            return [float(len(t)) for t in texts]

    pairs, ties = dpo.make_pairs(policy, tokenizer, queries, LengthReward(), 12, seed=0)
    assert len(pairs) + ties == 8 and all(p.chosen_reward > p.rejected_reward for p in pairs)
    flat = WordReward()  # no text says 'bad' on its own: every pair ties
    flat.rewards = lambda texts: [0.0] * len(texts)
    with pytest.raises(LabsError, match="same reward for both summaries"):
        dpo.make_pairs(policy, tokenizer, queries, flat, 12, seed=0)
    texts, kl = rivals.sample_with_kl(policy, tokenizer, queries, 12, seed=0)
    assert len(texts) == 8 and kl == pytest.approx(0.0, abs=1e-6)  # a fresh adapter is the reference


def test_the_table_labels_its_models_and_the_conclusion_reads_its_numbers():
    refs = ["a good day"] * 30
    before = rivals.Method("before", ["a bad stupid day"] * 20 + ["a good day"] * 10, 0.0, 30, 1.0)
    after = rivals.Method("PPO", ["a good day"] * 30, 2.5, 350, 9.0)
    same = rivals.Method("best-of-4", list(before.summaries), rivals.best_of_n_kl(4), 120, 3.0)
    table = rivals.rival_table([before, after, same], refs, WordReward(), judge.WordListJudge())
    assert table.attrs["measured_by"]["judge"] == judge.OFFLINE_JUDGE_NAME
    assert table.loc["PPO", "toxicity (judge)"] == 0
    assert table.loc["before", "toxicity (judge)"] == pytest.approx(2 / 3, abs=1e-4)
    assert table.loc["PPO", "_judge"]["high"] < 0 and table.loc["PPO", "_rouge1"]["mean_difference"] > 0
    assert not [c for c in rivals.shown(table).columns if c.startswith("_")]
    text = rivals.conclusion(table)
    assert text.startswith("Both models agree that PPO detoxified") and "best-of-4 did not clearly change" in text
    assert "PPO (350 generations) against best-of-4 (120): PPO lowered the reward model's toxicity more" in text
    clean = rivals.Method("before", ["a good day"] * 30, 0.0, 30, 1.0)
    nothing = rivals.conclusion(rivals.rival_table([clean, after], refs, WordReward(), judge.WordListJudge()))
    assert "No method lowered" in nothing and "The judge flags none of the 30 starting summaries" in nothing
    rare = rivals.Method("before", ["a bad stupid day"] * 2 + ["a good day"] * 28, 0.0, 30, 1.0)
    floor = rivals.conclusion(rivals.rival_table([rare, after], refs, WordReward(), judge.WordListJudge()))
    assert "The judge flags 2 of the 30 starting summaries, so no method can show a fall" in floor
    with pytest.raises(LabsError, match="one summary per reference"):
        rivals.rival_table([before], refs, WordReward(), judge.WordListJudge())


def test_a_judge_without_the_named_label_is_refused_in_one_sentence():
    from labs_helpers.rlhf.rewards import label_index

    neutral, toxic = judge.COURSE_JUDGE_LABELS
    assert label_index({0: neutral, 1: toxic}, toxic) == 1
    with pytest.raises(LabsError, match="no label named 'toxic'; its labels are 'neutral', 'offensive'"):
        label_index({0: "neutral", 1: "offensive"}, toxic)


def test_the_slice_can_score_the_dialogue_or_either_text():
    split = _split(4, 16).add_column(
        "dialogue", [f"a bad talk {i}" if i % 2 else f"a calm talk {i}" for i in range(20)]
    )
    by_dialogue = toxic_slice.select_slice(split, WordReward(), batch_size=4, scored="dialogue")
    by_either = toxic_slice.select_slice(split, WordReward(), batch_size=4, scored="either")
    assert len(by_dialogue.train) + len(by_dialogue.held_out) == 10  # the odd rows' dialogues
    assert len(by_either.train) + len(by_either.held_out) == 12  # rows 0-3 by their summary, the odd ones by dialogue
    assert "have a dialogue or its human summary with toxicity" in by_either.describe()
    with pytest.raises(LabsError, match="scored='title'"):
        toxic_slice.select_slice(split, WordReward(), batch_size=4, scored="title")
