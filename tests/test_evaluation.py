import pytest

from labs_helpers import LabsError, course, evaluation
from labs_helpers.evaluation import compare, eval_dialogues, summarize_dialogues
from labs_helpers.generation import generate_batched
from labs_helpers.plots import rouge_bars
from labs_helpers.prompting import fit_dialogue, format_prompt


def test_eval_dialogues_groups_the_test_triples(sample):
    grouped = eval_dialogues(sample["test"], n=100)
    assert len(grouped) == len(sample["test"]) // 3 == 10
    assert all(len(refs) == 3 for refs in grouped["references"])
    first = [row["summary"] for row in sample["test"] if row["dialogue"] == grouped[0]["dialogue"]]
    assert grouped[0]["references"] == first
    assert len(eval_dialogues(sample["test"], n=4)) == 4
    with pytest.raises(LabsError, match="at least one"):
        eval_dialogues(sample["test"], n=0)


def test_compare_scores_against_the_best_reference():
    references = [["the cat sat on the mat", "a dog barked"], ["they buy a car", "he sells his car to her"]]
    evaluation = compare(
        {"copy": ["a dog barked", "they buy a car"], "off": ["nothing alike here", "zebra"]},
        references,
        ids=["d1", "d2"],
    )
    examples, table = evaluation.examples, evaluation.table
    assert examples["copy: rouge1"].tolist() == [1.0, 1.0]  # each matches one of its references exactly
    assert examples["off: rouge1"].tolist() == [0.0, 0.0]
    assert examples["id"].tolist() == ["d1", "d2"] and examples["copy: summary"][1] == "they buy a car"
    assert table.loc["copy", "rouge1"] == 1.0 and table.loc["off", "rougeL"] == 0.0
    assert (table["rouge2 low"] <= table["rouge2"]).all() and (table["rouge2"] <= table["rouge2 high"]).all()
    assert evaluation.improvement("copy", "off")["rouge1"] == 1.0
    with pytest.raises(LabsError, match="No model named 'peft'"):
        evaluation.improvement("peft", "off")


def test_compare_counts_distinct_summaries_and_adds_the_constant_baseline():
    references = [["the cat sat on the mat"], ["they buy a car"], ["a dog barked at the cat"]]
    result = compare({"same": ["the cat", "the cat", "the cat "], "varied": ["cat", "car", "dog"]}, references)
    assert result.table["distinct"].to_dict() == {"same": 1, "varied": 3}
    assert (result.table["dialogues"] == 3).all()
    with_constant = compare({"varied": ["cat", "car", "dog"]}, references, constant="the cat")
    assert list(with_constant.table.index) == ["varied", evaluation.CONSTANT]
    row = with_constant.table.loc[evaluation.CONSTANT]
    assert row["distinct"] == 1 and row["rouge1"] == result.table.loc["same", "rouge1"]
    assert with_constant.examples[f"{evaluation.CONSTANT}: summary"].tolist() == ["the cat"] * 3
    baseline = evaluation.constant_row("the cat", references)
    assert baseline["distinct"] == 1 and baseline["rouge1"] == pytest.approx(row["rouge1"], abs=1e-4)


def test_side_by_side_puts_each_summary_beside_its_dialogue_and_human_summary():
    result = compare({"m": ["cat", "car"]}, [["the cat sat"], ["they buy a car"]])
    table = evaluation.side_by_side(result, ["#Person1#: " + "x" * 300, "#Person1#: A car?"], ["m"], n=2, width=20)
    assert list(table.columns) == ["dialogue", "human summary", "m"]
    assert table["dialogue"][0].endswith("...") and table["dialogue"][1] == "#Person1#: A car?"
    assert table["human summary"].tolist() == ["the cat sat", "they buy a car"] and table["m"].tolist() == [
        "cat",
        "car",
    ]


def test_summarize_keeps_the_cue_of_a_long_dialogue(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    long_dialogue = "#Person1#: " + "words of a long talk " * 200
    cut = summarize_dialogues(model, tokenizer, [long_dialogue], max_new_tokens=4, max_input_tokens=64)
    fitted = fit_dialogue(tokenizer, "finetune", long_dialogue, 64)
    assert fitted.endswith("Summary: ")
    assert cut == generate_batched(model, tokenizer, [fitted], max_new_tokens=4, progress=False)


def test_compare_rejects_a_wrong_number_of_summaries():
    with pytest.raises(LabsError, match="1 summaries for 2 dialogues"):
        compare({"m": ["only one"]}, [["a"], ["b"]])


def test_summarize_uses_the_fine_tuning_prompt(model_and_tokenizer, sample):
    model, tokenizer = model_and_tokenizer
    dialogues = sample["test"]["dialogue"][:2]
    expected = generate_batched(
        model, tokenizer, [format_prompt("finetune", d) for d in dialogues], max_new_tokens=6, progress=False
    )
    assert summarize_dialogues(model, tokenizer, dialogues, max_new_tokens=6) == expected


def test_plot_rouge_draws_one_bar_per_model_and_metric():
    import matplotlib

    matplotlib.use("agg")
    table = compare({"a": ["x y"], "b": ["x"], "c": ["z"]}, [["x y z"]]).table
    ax = rouge_bars(table)
    assert len(ax.patches) == 3 * 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]


def test_course_figures_are_the_labs_with_their_provenance():
    # ROUGE-1 of the lab's pre-generated results file: all 1,500 test rows, not 10.
    assert course.REFERENCE_ROUGE1 == {"original": 0.2334, "full fine-tune": 0.4216, "PEFT (LoRA)": 0.4081}
    assert "1,500 test rows" in course.REFERENCE_SOURCE
    # The lab's own generations on 10 rows; the original falls to 0.2128 once LoRA is injected into it.
    assert course.TEN_ROW_ROUGE1 == {
        "original": 0.2422,
        "original (PEFT section)": 0.2128,
        "full fine-tune": 0.4103,
        "PEFT (LoRA)": 0.3725,
    }
    assert course.IMPROVEMENT_POINTS == {
        "full fine-tune over original": (18.82, 10.43, 13.70, 13.69),
        "PEFT over original": (17.47, 8.73, 12.36, 12.34),
        "PEFT over full fine-tune": (-1.35, -1.70, -1.34, -1.35),
    }
    # The printed ROUGE-1 improvements are differences of the results file's figures, in points.
    ref = course.REFERENCE_ROUGE1
    pairs = {
        "full fine-tune over original": ("full fine-tune", "original"),
        "PEFT over original": ("PEFT (LoRA)", "original"),
        "PEFT over full fine-tune": ("PEFT (LoRA)", "full fine-tune"),
    }
    for name, (a, b) in pairs.items():
        assert round(100 * (ref[a] - ref[b]), 2) == course.IMPROVEMENT_POINTS[name][0]
    text = course.course_figures()
    assert "0.2128" in text and "1,500 test rows" in text and "+18.82" in text
