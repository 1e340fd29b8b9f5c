"""The one-call PPO loop: batching, lengths, a short run on the stand-in, the printed values and the table."""

from __future__ import annotations

import random

import pytest
import torch
from tiny_models import tiny_lora_config

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import PPOConfig, PPOTrainer, build_policy
from labs_helpers.rlhf.loop import PRINTED, draw_length, history_table, print_step, query_batches, train_ppo

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_query_batches_cover_every_query_once_per_pass_and_drop_the_tail():
    batches = query_batches(list(range(10)), batch_size=4, seed=1)
    first_pass = [next(batches), next(batches)]
    assert all(len(b) == 4 for b in first_pass) and len(set(first_pass[0] + first_pass[1])) == 8
    assert next(batches) != first_pass[0] or next(batches) != first_pass[1]  # a new pass, reshuffled
    assert next(query_batches(list(range(10)), 4, seed=1)) == first_pass[0]  # same seed, same order
    with pytest.raises(LabsError, match="cannot fill one batch of 16"):
        next(query_batches([1, 2], 16))


def test_draw_length():
    rng = random.Random(0)
    assert draw_length(50, rng) == 50
    assert {draw_length((3, 5), rng) for _ in range(50)} == {3, 4, 5}
    with pytest.raises(LabsError, match="low <= high"):
        draw_length((5, 3), rng)


def test_train_ppo_on_the_standin_prints_the_labs_values(standin_path, tmp_path, capsys):
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(standin_path), tiny_lora_config()).save_pretrained(tmp_path)
    policy = build_policy(AutoModelForSeq2SeqLM.from_pretrained(standin_path), tmp_path, "base")
    trainer = PPOTrainer(PPOConfig(batch_size=4, mini_batch_size=2), policy, tokenizer)
    queries = [f"Summarize the following conversation.\n\n#Person1#: Hello {n}.\n\nSummary: " for n in range(6)]
    torch.manual_seed(0)
    history = train_ppo(
        trainer,
        lambda texts: [-len(t) / 10 for t in texts],
        queries,
        steps=2,
        max_new_tokens=(5, 7),
        on_step=print_step,
    )
    assert [row["step"] for row in history] == [0.0, 1.0] and trainer.steps == 2
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all(key in printed[0] for key in PRINTED)
    table = history_table(history, PRINTED)
    assert list(table.index) == [0, 1] and list(table.columns) == list(PRINTED)
    with pytest.raises(LabsError, match="No statistic named 'kl'"):
        history_table(history, ["kl"])
    with pytest.raises(LabsError, match="steps=0"):
        train_ppo(trainer, len, queries, steps=0, max_new_tokens=5)


def test_train_ppo_needs_texts_to_score():
    from tiny_models import tiny_policy

    trainer = PPOTrainer(PPOConfig(batch_size=2, mini_batch_size=1), tiny_policy(32))
    with pytest.raises(LabsError, match="tokenizer"):
        train_ppo(trainer, len, [torch.tensor([4, 5, 1])] * 2, steps=1, max_new_tokens=4, min_new_tokens=1)
