"""Lab 3's data path (filter, prompt, id queries, the unshuffled 80/20 split) and the summary-length cap."""

from __future__ import annotations

import pytest
import torch

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import data as rl_data


@pytest.fixture(scope="module")
def tokenizer(standin_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(standin_path)


def test_the_labs_filter_is_strictly_above_200_and_at_most_1000():
    assert not rl_data.keep_dialogue("x" * 200) and rl_data.keep_dialogue("x" * 201)
    assert rl_data.keep_dialogue("x" * 1000) and not rl_data.keep_dialogue("x" * 1001)


def test_the_lab_dataset_keeps_order_and_splits_the_last_fifth_off(dataset, tokenizer):
    lab = rl_data.build_lab_dataset(dataset["train"], tokenizer, seed=42)
    kept = [row["id"] for row in dataset["train"] if rl_data.keep_dialogue(row["dialogue"])]
    assert list(lab["train"]["id"]) + list(lab["test"]["id"]) == kept
    assert abs(len(lab["test"]) / len(kept) - 0.2) < 0.05
    assert lab["train"][0]["query"].endswith("</s>") and "\n" not in lab["train"][0]["query"]
    other_seed = rl_data.build_lab_dataset(dataset["train"], tokenizer, seed=7)
    assert list(other_seed["test"]["id"]) == list(lab["test"]["id"])  # no shuffling: the seed changes nothing
    queries = rl_data.query_tensors(lab["train"], limit=3)
    assert len(queries) == 3 and queries[0].dtype == torch.long and int(queries[0][-1]) == tokenizer.eos_token_id


def test_the_full_dialogsum_gives_the_labs_counts(dataset, tokenizer):
    if len(dataset["train"]) != 12_460:
        pytest.skip("needs the full DialogSum (LABS_DATASET or ../shared/dialogsum)")
    lab = rl_data.build_lab_dataset(dataset["train"], tokenizer, seed=42)
    assert (len(lab["train"]), len(lab["test"])) == (8_017, 2_005)


def test_bad_ranges_are_refused(sample, tokenizer):
    with pytest.raises(LabsError, match="min_chars < max_chars"):
        rl_data.build_lab_dataset(sample["train"], tokenizer, seed=0, min_chars=500, max_chars=100)
    with pytest.raises(LabsError, match="widen the range"):
        rl_data.build_lab_dataset(sample["train"], tokenizer, seed=0, min_chars=5000, max_chars=6000)


def test_summary_budget_covers_the_quantile_plus_margin(tokenizer):
    summaries = ["a b c"] * 19 + ["a " * 200]
    short = len(tokenizer("a b c")["input_ids"])
    assert rl_data.summary_token_budget(tokenizer, summaries, quantile=0.9, margin=2) == short + 2
    assert rl_data.summary_token_budget(tokenizer, summaries, quantile=1.0, margin=0) > 200
    with pytest.raises(LabsError, match="No summaries"):
        rl_data.summary_token_budget(tokenizer, [])


def test_eval_queries_keep_the_summary_cue_of_a_long_dialogue(tokenizer):
    long = "#Person1#: " + "word " * 2000
    short, cut = rl_data.eval_queries(tokenizer, ["#Person1#: Hi.", long], max_tokens=64)
    assert short.tolist() == tokenizer(rl_data.lab_prompt("#Person1#: Hi.")).input_ids  # a short one: untouched
    assert len(cut) <= 64 and tokenizer.decode(cut, skip_special_tokens=True).endswith("Summary:")
    assert rl_data.LAB_PROMPT == "\nSummarize the following conversation.\n\n{dialogue}\n\nSummary:\n"
