import pandas as pd

from labs_helpers.findings import interval, notebook_findings, number, overlap, rows, versus


def table(lora=(0.330, 0.293, 0.370)):
    records = [
        {"model": "full fine-tune", "rouge1": 0.351, "rouge1 low": 0.314, "rouge1 high": 0.391},
        {"model": "PEFT (LoRA)", "rouge1": lora[0], "rouge1 low": lora[1], "rouge1 high": lora[2]},
        {"model": "constant sentence", "rouge1": 0.290, "rouge1 low": 0.270, "rouge1 high": 0.310},
    ]
    return records


def test_numbers_are_written_one_way():
    assert [number(0.35087), number(0.061, signed=True), number(4.77e-07), number(0.0)] == [
        "0.351",
        "+0.061",
        "4.77e-07",
        "0.000",
    ]


def test_rows_read_a_dataframe_and_saved_records_alike():
    frame = pd.DataFrame(table()).set_index("model")
    assert rows(frame)["PEFT (LoRA)"]["rouge1"] == rows(table())["PEFT (LoRA)"]["rouge1"] == 0.330
    assert interval(frame, "constant sentence") == (0.290, 0.270, 0.310)


def test_the_sentence_follows_the_intervals():
    assert overlap(table(), "PEFT (LoRA)", "constant sentence")
    assert "does not tell them apart" in versus(table(), "PEFT (LoRA)", "constant sentence")
    clear = versus(table(), "full fine-tune", "constant sentence")
    assert not overlap(table(), "full fine-tune", "constant sentence")
    assert "+0.061, above it with no overlap" in clear and "0.351 [0.314, 0.391]" in clear


def test_one_sentence_per_notebook_that_saved_its_numbers():
    found = {
        "01_transformer_anatomy": {"data": {"attention_max_abs_diff": 4.77e-07, "greedy_loop_equals_generate": True}},
        "04_full_fine_tuning": {"data": {"table": table()}},
        "05_peft_lora": {"data": {"table": table(lora=(0.36, 0.33, 0.39))}},
        "06_rlhf_detox_details": {
            "data": {"paired_difference": {"mean_difference": 0.002, "low": -0.005, "high": 0.009}}
        },
        "03_generation_config": {"data": {"something": "else"}},  # another shape: no sentence rather than a wrong one
    }
    sentences = notebook_findings(found)
    assert [s[:3] for s in sentences] == ["01:", "04:", "05:", "06:"]
    assert "4.77e-07" in sentences[0] and "no effect shown" in sentences[3] and "toxic slice" not in sentences[3]
    found["06_rlhf_rivals_details"] = {"data": {"conclusion": "By the reward model, PPO lowered toxicity. PPO did x."}}
    assert notebook_findings(found)[3].endswith("On the toxic slice: By the reward model, PPO lowered toxicity.")
    assert "above it" in sentences[2] and "does not tell them apart" in sentences[2]  # above the floor, not full
