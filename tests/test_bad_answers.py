"""Issue #16, class 2: a learner's answer that returns nothing, the wrong type or the wrong shape gets
feedback from every checker, never a crash inside the checker."""

import numpy as np
import pytest

from labs_helpers.exercises import (
    Feedback,
    anatomy_checks,
    decoding_checks,
    finetuning_checks,
    lora_checks,
    prompting_checks,
)

WRONG = {
    "None": None,
    "a string": "not an answer",
    "a wrong-shape array": np.zeros((2, 3)),
    "a wrong-shape list": [[1.0, 2.0]],
}


def checkers(model, tokenizer):
    """Every checker, as a call on a learner's function."""
    ids = tokenizer("Who wants what?", return_tensors="pt").input_ids
    return {
        "01.1": lambda f: anatomy_checks.check_positional_encoding(f),
        "01.2": lambda f: anatomy_checks.check_attention_head(f, model, ids, 0),
        "02.2": lambda f: prompting_checks.check_fit_shots(f),
        "03.1": lambda f: decoding_checks.check_top_p(f),
        "03.2": lambda f: decoding_checks.check_temperature(f),
        "03.3": lambda f: decoding_checks.check_distinct_n(f),
        "04.1": lambda f: finetuning_checks.check_label_masking(f),
        "04.2": lambda f: finetuning_checks.check_tokenize(f, tokenizer),
        "05.1": lambda f: lora_checks.check_lora_count(f, model),
        "05.2": lambda f: lora_checks.check_paired_bootstrap(f),
    }


@pytest.mark.parametrize("exercise", ["01.1", "01.2", "02.2", "03.1", "03.2", "03.3", "04.1", "04.2", "05.1", "05.2"])
@pytest.mark.parametrize("wrong", WRONG)
def test_every_checker_gives_feedback_on_a_wrong_kind_of_answer(model_and_tokenizer, exercise, wrong):
    model, tokenizer = model_and_tokenizer
    value = WRONG[wrong]
    feedback = checkers(model, tokenizer)[exercise](lambda *args: value)
    assert isinstance(feedback, Feedback) and not feedback.passed
    text = str(feedback)
    assert text.startswith(f"Exercise {exercise}: not yet.") and "Hint:" in text
    if value is None:
        assert "your function returned None: did you forget the `return`?" in text


@pytest.mark.parametrize("template", [None, 42, ["{dialogue}"]])
def test_the_template_checker_gives_feedback_on_a_wrong_kind_of_template(template):
    feedback = prompting_checks.check_template(template)
    assert not feedback.passed and "the template should be a string" in str(feedback)


def test_a_result_the_checker_cannot_use_is_described():
    feedback = finetuning_checks.check_label_masking(lambda labels, pad: np.zeros((2, 3)))
    assert "your function returned a ndarray of shape (2, 3), which this exercise cannot use" in str(feedback)
