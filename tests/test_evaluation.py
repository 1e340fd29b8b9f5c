import pytest

from labs_helpers import LabsError
from labs_helpers.course import REFERENCE_ROUGE1
from labs_helpers.evaluation import compare, eval_dialogues, summarize_dialogues
from labs_helpers.generation import generate_batched
from labs_helpers.plots import rouge_bars
from labs_helpers.prompting import format_prompt


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


def test_course_reference_numbers_are_the_labs():
    assert REFERENCE_ROUGE1 == {"original": 0.2334, "full fine-tune": 0.4216, "PEFT (LoRA)": 0.4081}
