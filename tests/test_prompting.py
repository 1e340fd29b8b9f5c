import warnings

import pytest
from datasets import Dataset

from labs_helpers import LabsError, prompting
from labs_helpers.prompting import (
    SHOT_END,
    TEMPLATES,
    Prompt,
    PromptTooLongWarning,
    build_prompt,
    format_prompt,
    lab_rows,
    make_prompt,
)

TOY = Dataset.from_dict(
    {
        "dialogue": [
            "#Person1#: Hi.\n#Person2#: Hello.",
            "#Person1#: Hi.\n#Person2#: Hello.",
            "#Person1#: Tea?\n#Person2#: Yes.",
            "  ",
        ],
        "summary": ["They greet.", "Two people say hello.", "#Person2# wants tea.", "Nothing."],
    }
)


def test_course_templates_word_for_word():
    assert format_prompt("instruction", "D") == "\nSummarize the following conversation.\n\nD\n\nSummary:\n    "
    assert format_prompt("flan", "D") == "\nDialogue:\n\nD\n\nWhat was going on?\n"
    assert format_prompt("finetune", "D") == "Summarize the following conversation.\n\nD\n\nSummary: "
    assert set(TEMPLATES) == {"instruction", "flan", "finetune", "lab3"}


def test_build_prompt_is_the_labs_few_shot_layout():
    text = build_prompt("flan", [("D1", "S1"), ("D2", "S2")], "D3")
    lab = "".join(f"\nDialogue:\n\n{d}\n\nWhat was going on?\n{s}\n\n\n" for d, s in [("D1", "S1"), ("D2", "S2")])
    assert text == lab + "\nDialogue:\n\nD3\n\nWhat was going on?\n"
    assert build_prompt("instruction", [], "D") == format_prompt("instruction", "D")
    assert SHOT_END == "\n\n\n"


def test_make_prompt_counts_tokens_and_keeps_rows(model_and_tokenizer, dataset):
    _, tokenizer = model_and_tokenizer
    train = dataset["train"]
    lengths = [len(d) for d in train["dialogue"]]
    a, b, c = sorted(range(len(train)), key=lengths.__getitem__)[:3]  # short enough to fit
    prompt = make_prompt(tokenizer, train, [a, b], c, "instruction")
    expected = build_prompt(
        "instruction", [(train[i]["dialogue"], train[i]["summary"]) for i in (a, b)], train[c]["dialogue"]
    )
    assert isinstance(prompt, Prompt)
    assert prompt.text == expected
    assert prompt.n_tokens == len(tokenizer(expected).input_ids)
    assert prompt.shots == (a, b) and prompt.limit == tokenizer.model_max_length
    assert prompt.fits == (prompt.n_tokens <= prompt.limit)  # the sample's tiny vocabulary makes prompts long
    short = make_prompt(tokenizer, train, [], "#Person1#: Hi.\n#Person2#: Hello.", "instruction")
    assert short.fits and short.shots == () and short.n_tokens < 40
    # A dialogue given as text gives the same prompt as its row.
    assert make_prompt(tokenizer, train, [a, b], train[c]["dialogue"], "instruction") == prompt


def test_too_long_prompt_warns_and_budget_keeps_what_fits(model_and_tokenizer, dataset):
    _, tokenizer = model_and_tokenizer
    train = dataset["train"]
    shots = list(range(1, 16))
    with pytest.warns(PromptTooLongWarning, match=r"tokens, more than the 512"):
        full = make_prompt(tokenizer, train, shots, 0)
    assert not full.fits and full.shots == tuple(shots)
    two = build_prompt("flan", [(train[i]["dialogue"], train[i]["summary"]) for i in shots[:2]], train[0]["dialogue"])
    budget = len(tokenizer(two).input_ids)  # room for the first two shots at least
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = make_prompt(tokenizer, train, shots, 0, budget=budget)
    assert fitted.n_tokens <= budget and fitted.limit == budget and 2 <= len(fitted.shots) < len(shots)
    assert list(fitted.shots) == [s for s in shots if s in fitted.shots]  # order kept
    # Greedy: each left-out shot would have pushed the prompt past the budget at its turn.
    first_dropped = next(s for s in shots if s not in fitted.shots)
    kept_before = [s for s in fitted.shots if s < first_dropped]
    pairs = [(train[i]["dialogue"], train[i]["summary"]) for i in kept_before + [first_dropped]]
    assert len(tokenizer(build_prompt("flan", pairs, train[0]["dialogue"])).input_ids) > budget


def test_target_alone_over_budget_still_warns(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    with pytest.warns(PromptTooLongWarning, match="the budget"):
        prompt = make_prompt(tokenizer, TOY, [2], 0, budget=5)
    assert prompt.shots == ()


@pytest.mark.parametrize(
    "shots, target, template, budget, message",
    [
        ([0], 99, "flan", None, r"Target index 99 is not a row of this split \(4 rows: use 0 to 3\)"),
        ([-1], 2, "flan", None, r"Shot index -1 is not a row"),
        ([0], 1, "flan", None, r"Shot row 0 is the same dialogue as the target \(row 1\)"),
        (
            [2],
            "#Person1#: Tea?\n#Person2#: Yes.",
            "flan",
            None,
            r"Shot row 2 is the same dialogue as the target dialogue",
        ),
        ([3], 2, "flan", None, r"Shot row 3 has an empty dialogue"),
        ([0], " ", "flan", None, r"The target dialogue is empty"),
        ([0], 2, "nope", None, r"Unknown template 'nope': use one of 'instruction', 'flan', 'finetune', 'lab3'"),
        ([0], 2, "flan", 0, r"budget=0"),
    ],
)
def test_bad_input_one_clear_error(model_and_tokenizer, shots, target, template, budget, message):
    _, tokenizer = model_and_tokenizer
    with pytest.raises(LabsError, match=message):
        make_prompt(tokenizer, TOY, shots, target, template, budget=budget)


def test_format_prompt_unknown_template():
    with pytest.raises(LabsError, match="Unknown template 'nope'"):
        format_prompt("nope", "x")


def test_lab_rows_unchanged_when_they_exist(capsys):
    big = Dataset.from_dict({"dialogue": [f"d{i // 3}" for i in range(300)]})
    assert lab_rows(big, [40, 200]) == {40: 40, 200: 200}
    assert capsys.readouterr().out == ""


def test_lab_rows_on_a_small_split_uses_distinct_dialogues(sample, capsys):
    test = sample["test"]
    rows = lab_rows(test, [40, 80, 120, 200])
    assert "do not exist here" in capsys.readouterr().out
    mapped = [rows[i] for i in (40, 80, 120, 200)]
    assert mapped == sorted(mapped) and all(0 <= r < len(test) for r in mapped)
    assert len({test[r]["dialogue"] for r in mapped}) == 4
    assert lab_rows(test, [200, 40]) == {200: rows[200], 40: rows[40]}
    with pytest.raises(LabsError, match="fewer than the 11 rows"):
        lab_rows(test, list(range(100, 1200, 100)))


def test_fit_dialogue_keeps_instruction_and_cue_of_a_long_dialogue(model_and_tokenizer, dataset):
    _, tokenizer = model_and_tokenizer
    short = "#Person1#: Hi.\n#Person2#: Hello."
    assert prompting.fit_dialogue(tokenizer, "finetune", short, 512) == prompting.format_prompt("finetune", short)
    long_dialogue = "\n".join([f"#Person1#: Sentence number {i} of a very long talk." for i in range(200)])
    fitted = prompting.fit_dialogue(tokenizer, "finetune", long_dialogue, 100)
    assert len(tokenizer(fitted).input_ids) <= 100
    assert fitted.startswith("Summarize the following conversation.\n\n#Person1#: Sentence number 0")
    assert fitted.endswith("\n\nSummary: ")  # the cue survives; a truncating tokenizer would have cut it
    kept = fitted.removeprefix("Summarize the following conversation.\n\n").removesuffix("\n\nSummary: ")
    assert long_dialogue.startswith(kept) and len(kept) < len(long_dialogue)
    # It uses the room: one more token of dialogue would not fit.
    assert len(tokenizer(fitted).input_ids) >= 95
    cut = tokenizer(prompting.format_prompt("finetune", long_dialogue), truncation=True, max_length=100).input_ids
    assert not tokenizer.decode(cut, skip_special_tokens=True).endswith("Summary:")
    with pytest.raises(LabsError, match="template alone"):
        prompting.fit_dialogue(tokenizer, "finetune", long_dialogue, 3)


def test_prompts_over_counts_long_dialogues(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    dialogues = ["#Person1#: Hi.", "#Person1#: " + "word " * 600]
    assert prompting.prompts_over(tokenizer, "finetune", dialogues, 512) == 1
    assert prompting.prompts_over(tokenizer, "finetune", dialogues, 10_000) == 0


def test_counting_tokens_leaves_transformers_long_input_warning_to_the_call_that_feeds_the_model(standin_path):
    """The kit's counts are silent; the lab's own untruncated call (notebook 02) still gets the warning."""
    from transformers import AutoTokenizer

    from labs_helpers.finetuning import truncation_report
    from labs_helpers.rlhf.data import summary_token_budget

    tokenizer = AutoTokenizer.from_pretrained(standin_path)  # fresh: transformers warns once per tokenizer
    warned = "sequence-length-is-longer-than-the-specified-maximum"
    long_dialogue = "\n".join(f"#Person1#: Sentence number {i} of a very long talk." for i in range(200))
    split = Dataset.from_dict({"dialogue": [long_dialogue], "summary": ["word " * 600]})
    prompting.fit_dialogue(tokenizer, "finetune", long_dialogue, 100)
    prompting.prompts_over(tokenizer, "finetune", [long_dialogue], 512)
    prompting.make_prompt(tokenizer, split, shots=[], target=long_dialogue, budget=10_000)
    assert truncation_report(split, tokenizer)["inputs_truncated"] == 1
    assert summary_token_budget(tokenizer, split["summary"]) > 512
    assert not tokenizer.deprecation_warnings.get(warned)
    tokenizer(prompting.format_prompt("finetune", long_dialogue))  # the lab's call: no truncation
    assert tokenizer.deprecation_warnings.get(warned)
