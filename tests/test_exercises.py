"""Every checker accepts the solution in the notebooks, rejects the student stub, and explains
wrong answers specifically; the student edition has no solution left in it."""

import re

import nbformat
import numpy as np
import pytest
import torch

from labs_helpers import exercises
from labs_helpers.anatomy import self_attention_by_hand, sinusoidal_encoding
from labs_helpers.exercises import (
    anatomy_checks,
    decoding_checks,
    finetuning_checks,
    lora_checks,
    prompting_checks,
    rlhf_checks,
)
from labs_helpers.instructor.student_edition import build, grading, stub_source
from labs_helpers.settings import KIT_ROOT

NOTEBOOKS = sorted((KIT_ROOT / "notebooks").glob("[0-9]*.ipynb"))


def solution_cells() -> dict[str, str]:
    """Exercise id -> source of its solution cell, from the instructor notebooks."""
    found = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if grading(cell).get("solution"):
                for exercise in re.findall(r"### BEGIN SOLUTION\s+([\w.]+)", cell.source):
                    found[exercise] = cell.source
    return found


@pytest.fixture(scope="module")
def checks(model_and_tokenizer):
    """How to call each checker on the namespace a solution cell defines."""
    model, tokenizer = model_and_tokenizer
    ids = tokenizer("The summary says who wants what.", return_tensors="pt").input_ids
    return {
        "01.1": lambda ns: anatomy_checks.check_positional_encoding(ns["positional_encoding"]),
        "01.2": lambda ns: anatomy_checks.check_attention_head(ns["head_attention"], model, ids, head=1),
        "02.1": lambda ns: prompting_checks.check_template(ns["my_template"], tokenizer, ["#Person1#: Hi."]),
        "02.2": lambda ns: prompting_checks.check_fit_shots(ns["fit_shots"]),
        "03.1": lambda ns: decoding_checks.check_top_p(ns["top_p_filter"]),
        "03.2": lambda ns: decoding_checks.check_temperature(ns["apply_temperature"]),
        "03.3": lambda ns: decoding_checks.check_distinct_n(ns["distinct_n"]),
        "04.1": lambda ns: finetuning_checks.check_label_masking(ns["mask_padding"]),
        "04.2": lambda ns: finetuning_checks.check_tokenize(ns["tokenize"], tokenizer),
        "05.1": lambda ns: lora_checks.check_lora_count(ns["lora_trainable"], model),
        "05.2": lambda ns: lora_checks.check_paired_bootstrap(ns["paired_bootstrap"]),
        "06.1": lambda ns: rlhf_checks.check_kl_rewards(ns["kl_penalized_rewards"]),
        "06.2": lambda ns: rlhf_checks.check_clipped_loss(ns["clipped_policy_loss"]),
    }


def test_template_checker_asks_room_for_the_dialogue_not_the_impossible(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    namespace: dict = {}
    exec(compile(solution_cells()["02.1"], "solution 02.1", "exec"), namespace)
    too_long = " ".join(["word"] * 600)  # no template fits this dialogue; the solution is not failed for it
    feedback = prompting_checks.check_template(namespace["my_template"], tokenizer, ["#Person1#: Hi.", too_long])
    assert feedback.passed and "1 of 2 prompts are still over 512" in str(feedback)
    wordy = "Read this. " * 40 + "{dialogue}\nSummary:"
    feedback = prompting_checks.check_template(wordy, tokenizer, ["#Person1#: Hi."])
    assert not feedback.passed and "keep them to 64 of the 512-token context window" in str(feedback)


def test_every_exercise_has_one_solution_in_the_notebooks():
    assert sorted(solution_cells()) == sorted(exercises.HINTS)


@pytest.mark.parametrize("exercise", sorted(exercises.HINTS))
def test_checker_accepts_solution_and_rejects_stub(exercise, checks):
    source = solution_cells().get(exercise)
    if source is None:
        pytest.fail(f"exercise {exercise} has no solution cell in notebooks/")
    namespace: dict = {}
    exec(compile(source, f"solution {exercise}", "exec"), namespace)
    feedback = checks[exercise](namespace)
    assert feedback.passed, str(feedback)
    assert str(feedback).startswith(f"Exercise {exercise}: passed")

    student: dict = {}
    with pytest.raises(NotImplementedError, match=f"Exercise {exercise}"):
        exec(compile(stub_source(source), f"stub {exercise}", "exec"), student)
        checks[exercise](student)


SEEDED = {
    "01.1": (anatomy_checks.check_positional_encoding, "positional_encoding"),
    "02.2": (prompting_checks.check_fit_shots, "fit_shots"),
    "03.1": (decoding_checks.check_top_p, "top_p_filter"),
    "03.2": (decoding_checks.check_temperature, "apply_temperature"),
    "03.3": (decoding_checks.check_distinct_n, "distinct_n"),
    "04.1": (finetuning_checks.check_label_masking, "mask_padding"),
    "05.2": (lora_checks.check_paired_bootstrap, "paired_bootstrap"),
    "06.1": (rlhf_checks.check_kl_rewards, "kl_penalized_rewards"),
    "06.2": (rlhf_checks.check_clipped_loss, "clipped_policy_loss"),
}


@pytest.mark.parametrize("seed", [7, 918273])
@pytest.mark.parametrize("exercise", sorted(SEEDED))
def test_the_graders_own_cases_accept_the_solution(exercise, seed):
    namespace: dict = {}
    exec(compile(solution_cells()[exercise], f"solution {exercise}", "exec"), namespace)
    check, answer = SEEDED[exercise]
    assert check(namespace[answer], seed=seed).passed


@pytest.mark.parametrize("seed", [7, 918273])
def test_the_graders_own_lora_case_accepts_the_solution(seed, model_and_tokenizer):
    namespace: dict = {}
    exec(compile(solution_cells()["05.1"], "solution 05.1", "exec"), namespace)
    assert lora_checks.check_lora_count(namespace["lora_trainable"], model_and_tokenizer[0], seed=seed).passed


def test_wrong_answers_get_specific_feedback(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer

    def swapped(n, d):
        pe = sinusoidal_encoding(n, d)
        pe[:, 0::2], pe[:, 1::2] = pe[:, 1::2].copy(), pe[:, 0::2].copy()
        return pe

    feedback = anatomy_checks.check_positional_encoding(swapped)
    assert not feedback and "swapped" in str(feedback) and "Hint:" in str(feedback)

    def lesson_wording(logits, top_p):  # keep tokens while cumulative probability <= p
        probs, order = torch.softmax(logits, -1).sort(-1, descending=True)
        drop = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, probs.cumsum(-1) > top_p)
        return logits.masked_fill(drop, float("-inf"))

    assert "'<= p' wording" in str(decoding_checks.check_top_p(lesson_wording))
    assert "multiplied" in str(decoding_checks.check_temperature(lambda logits, t: logits * t))
    assert "end-of-sequence" in str(
        finetuning_checks.check_label_masking(lambda labels, pad: labels.masked_fill(labels <= 1, -100))
    )
    assert "in place" in str(
        finetuning_checks.check_label_masking(lambda labels, pad: labels.masked_fill_(labels == pad, -100))
    )
    assert "exactly one" in str(prompting_checks.check_template("Summarize: {dialogue} {dialogue}"))
    assert "across all texts" in str(decoding_checks.check_distinct_n(lambda texts, n: 0.5))
    assert "stopped too early" in str(
        prompting_checks.check_fit_shots(lambda lengths, target, budget: [0] if lengths else [])
    )
    half = lambda m, r, targets: lora_checks.lora_reference(m, r, targets) // 2  # noqa: E731
    assert "two matrices" in str(lora_checks.check_lora_count(half, model))
    unpaired = lambda b, a: float(np.mean(np.random.default_rng(0).permutation(a) > np.asarray(b)))  # noqa: E731
    assert not lora_checks.check_paired_bootstrap(unpaired)

    def scaled(model, input_ids, head):
        parts = self_attention_by_hand(model, input_ids)
        return (parts.scores[head] / parts.queries.shape[-1] ** 0.5 + parts.bias[head]).softmax(-1)

    ids = tokenizer("Who wants what?", return_tensors="pt").input_ids
    assert "sqrt(d_kv)" in str(anatomy_checks.check_attention_head(scaled, model, ids, head=0))


def test_a_graded_checker_cell_raises_only_when_the_check_failed():
    from labs_helpers.metrics import distinct_n

    wrong = decoding_checks.check_distinct_n(lambda texts, n: 1.0 if n == 1 else 0.0)
    good = decoding_checks.check_distinct_n(distinct_n)
    assert good.assert_passed() is good  # the cell still shows the feedback
    with pytest.raises(AssertionError, match=r"Exercise 03.3: not yet\.(.|\n)*Hint: Count distinct"):
        wrong.assert_passed()


def test_learner_errors_become_feedback():
    feedback = decoding_checks.check_distinct_n(lambda texts, n: 1 / 0)
    assert not feedback and "ZeroDivisionError" in str(feedback)


def test_student_edition_has_no_solutions(tmp_path):
    written = build(tmp_path, NOTEBOOKS)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    solutions = solution_cells()
    for path in written:
        for cell in nbformat.read(path, as_version=4).cells:
            assert "BEGIN SOLUTION" not in cell.source and not cell.get("outputs")
            if grading(cell).get("solution"):  # the learner writes here, but cannot delete the cell
                assert cell.metadata["deletable"] is False and "editable" not in cell.metadata
            elif grading(cell).get("grade") or grading(cell).get("locked"):  # checkers and exercise texts
                assert cell.metadata["deletable"] is False and cell.metadata["editable"] is False
    text = "\n".join(path.read_text() for path in written)
    for exercise, source in solutions.items():
        body = re.search(r"### BEGIN SOLUTION[^\n]*\n(.*?)### END SOLUTION", source, re.S).group(1)
        for line in body.strip().splitlines():
            if len(line.strip()) > 25:  # distinctive solution lines must be gone
                assert line.strip() not in text, (exercise, line)


def test_stub_markers_are_validated():
    from labs_helpers.errors import LabsError

    with pytest.raises(LabsError, match="never closed"):
        stub_source("### BEGIN SOLUTION 03.1\nx = 1")
    with pytest.raises(LabsError, match="without a '### BEGIN SOLUTION"):
        stub_source("x = 1\n### END SOLUTION")
    with pytest.raises(LabsError, match="alone on its line"):
        stub_source("x = 1  ### BEGIN SOLUTION 03.1\n### END SOLUTION")


def test_student_edition_runs_up_to_the_first_unsolved_exercise(tmp_path, monkeypatch, settings):
    """What a student sees on opening the edition: every lesson cell runs, the first stub stops it."""
    from conftest import dataset_dir
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    for name, value in {
        "LABS_PROFILE": "offline",
        "LABS_STANDIN": "instant",
        "LABS_DATASET": str(dataset_dir()),
        "LABS_CACHE": str(settings.cache_dir),
        "LABS_RUN_DIR": str(tmp_path / "run"),
        "MPLBACKEND": "agg",
        "TQDM_DISABLE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    [path] = build(tmp_path / "student", [KIT_ROOT / "notebooks" / "01_transformer_anatomy.ipynb"])
    notebook = nbformat.read(path, as_version=4)
    first_stub = next(i for i, c in enumerate(notebook.cells) if grading(c).get("solution"))
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(CellExecutionError, match="NotImplementedError") as info:
        client.execute()
    assert "Exercise 01.1: your turn. Hint:" in str(info.value)
    ran = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.get("execution_count")]
    # The stub defines the function; the checker cell after it calls it and stops the notebook there.
    assert max(ran) == first_stub + 1
    errors = [
        i
        for i, c in enumerate(notebook.cells[: first_stub + 1])
        if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert errors == []


def test_rlhf_checkers_name_the_mistake():
    def last_column(scores, logprobs, ref_logprobs, mask, kl_coef):
        rewards = -kl_coef * (logprobs - ref_logprobs) * mask
        rewards[:, -1] += scores
        return rewards

    def unclipped(logprobs, old_logprobs, advantages, mask, cliprange):
        return -(torch.exp(logprobs - old_logprobs) * advantages * mask).sum() / mask.sum()

    def optimistic(logprobs, old_logprobs, advantages, mask, cliprange):
        ratio = torch.exp(logprobs - old_logprobs)
        objective = torch.max(ratio * advantages, ratio.clamp(1 - cliprange, 1 + cliprange) * advantages)
        return -(objective * mask).sum() / mask.sum()

    assert "first EOS" in str(rlhf_checks.check_kl_rewards(last_column))
    assert "did not clip" in str(rlhf_checks.check_clipped_loss(unclipped))
    assert "MIN of the two" in str(rlhf_checks.check_clipped_loss(optimistic))
    assert "raised ZeroDivisionError" in str(rlhf_checks.check_clipped_loss(lambda *args: 1 / 0))


def test_assignment_notebooks_are_the_ones_with_graded_cells():
    import nbformat

    from labs_helpers.instructor.student_edition import assignment_notebooks, grading
    from labs_helpers.settings import KIT_ROOT

    found = assignment_notebooks()
    graded = [
        p
        for p in sorted((KIT_ROOT / "notebooks").glob("*.ipynb"))
        if any(grading(c).get("grade") for c in nbformat.read(p, as_version=4).cells)
    ]
    assert found == graded and [p.name[:2] for p in found] == ["01", "02", "03", "04", "05", "06"]
