"""Fine-tuning: the lab's tokenize function, dynamic padding, resumable runs, the loss history."""

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from labs_helpers import LabsError
from labs_helpers.finetuning import (
    FinetunePlan,
    finetune,
    loss_fell,
    loss_history,
    make_collator,
    prepare_data,
    tokenize_function,
    truncation_report,
)
from labs_helpers.runs import SimulatedInterruption, interrupt_after, latest_final

# Small enough for seconds on two CPU cores: 6 steps of 2 examples, prompts cut to 64 tokens.
TINY = dict(steps=6, train_examples=12, batch_size=2, eval_examples=2, max_input_tokens=64, bf16=False)


def tiny_plan(kind, settings, model, **overrides):
    """The settings' plan with the tiny budgets above."""
    return FinetunePlan.from_settings(kind, settings, model, **(TINY | overrides))


def lab_prompt(dialogue):
    return "Summarize the following conversation.\n\n" + dialogue + "\n\nSummary: "


def test_tokenize_function_is_the_labs_prompt_without_padding(model_and_tokenizer, dataset):
    _, tokenizer = model_and_tokenizer
    batch = dataset["train"][:3]
    encoded = tokenize_function(tokenizer)(batch)
    assert encoded["input_ids"] == tokenizer([lab_prompt(d) for d in batch["dialogue"]]).input_ids
    assert encoded["labels"] == tokenizer(text_target=batch["summary"]).input_ids
    assert len({len(ids) for ids in encoded["input_ids"]}) > 1  # not padded to one length


def test_collator_pads_labels_with_minus_100_and_the_loss_ignores_them(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    tokenize = tokenize_function(tokenizer, max_input_tokens=48)
    rows = dataset["train"][:2]
    features = [dict(zip(tokenize(rows).keys(), values)) for values in zip(*tokenize(rows).values())]
    lengths = [len(f["labels"]) for f in features]
    assert lengths[0] != lengths[1]
    batch = make_collator(tokenizer, model)(features)
    longest = max(lengths)
    for row, n in enumerate(lengths):
        assert batch["labels"][row, :n].tolist() == features[row]["labels"]
        assert (batch["labels"][row, n:] == -100).all() and batch["labels"].shape[1] == longest
    assert (batch["decoder_input_ids"] >= 0).all()  # shifted labels: -100 became the pad id
    assert batch["decoder_input_ids"][:, 0].tolist() == [model.config.decoder_start_token_id] * 2
    # The batch loss is the token-weighted mean of each example's own loss: padding adds nothing.
    with torch.no_grad():
        together = model(**batch).loss
        alone = [model(**make_collator(tokenizer, model)([f])).loss for f in features]
    assert torch.allclose(together, sum(loss * n for loss, n in zip(alone, lengths)) / sum(lengths), atol=1e-5)


def test_truncation_report_counts_what_is_cut(model_and_tokenizer, dataset):
    _, tokenizer = model_and_tokenizer
    split = dataset["train"].select(range(8))
    lengths = [len(tokenizer(lab_prompt(d)).input_ids) for d in split["dialogue"]]
    limit = sorted(lengths)[4]
    report = truncation_report(split, tokenizer, max_input_tokens=limit, max_target_tokens=1000)
    assert report == {
        "examples": 8,
        "inputs_truncated": sum(n > limit for n in lengths),
        "targets_truncated": 0,
        "longest_input": max(lengths),
        "longest_target": report["longest_target"],
    }
    data = prepare_data(dataset, tokenizer, train_examples=8, eval_examples=3, max_input_tokens=limit)
    assert max(len(ids) for ids in data["train"]["input_ids"]) == limit
    assert len(data["validation"]) == min(3, len(dataset["validation"]))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def whole_run(settings, dataset, standin_path, tmp_path_factory):
    """One uninterrupted tiny full fine-tuning run, shared by the tests below."""
    return finetune(tiny_plan("full", settings, standin_path), dataset, tmp_path_factory.mktemp("runs") / "whole-001")


def test_resume_after_interruption_ends_with_the_same_weights(settings, dataset, standin_path, tmp_path, whole_run):
    plan = tiny_plan("full", settings, standin_path)
    with pytest.raises(SimulatedInterruption):
        finetune(plan, dataset, tmp_path / "broken", callbacks=[interrupt_after(3)])
    written = tmp_path / "broken" / "checkpoint-3" / "model.safetensors"
    before = _digest(written)
    assert not (tmp_path / "broken" / "final").exists()
    resumed = finetune(plan, dataset, tmp_path / "broken", resume=tmp_path / "broken")
    assert _digest(written) == before  # what was written before the interruption is kept
    assert resumed.trainer.state.global_step == whole_run.trainer.state.global_step == 6
    a, b = whole_run.trainer.model.state_dict(), resumed.trainer.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history["train_loss"].tolist() == pytest.approx(whole_run.history["train_loss"].tolist())


def test_finetune_full_saves_a_model_that_reloads(whole_run, standin_path):
    from transformers import AutoModelForSeq2SeqLM

    reloaded = AutoModelForSeq2SeqLM.from_pretrained(whole_run.final_dir)
    trained = whole_run.trainer.model.state_dict()
    assert all(torch.equal(trained[k].cpu(), v) for k, v in reloaded.state_dict().items())
    assert latest_final(whole_run.output_dir.parent) == whole_run.final_dir
    assert latest_final(whole_run.output_dir.parent, standin_path) == whole_run.final_dir
    other = whole_run.output_dir.parent / "other"  # a base with another vocabulary: its runs are passed over
    other.mkdir(exist_ok=True)
    (other / "tokenizer.json").write_text("{}")
    assert latest_final(whole_run.output_dir.parent, other) is None
    history = whole_run.history
    assert set(history.columns) == {"train_loss", "eval_loss"} and history["eval_loss"].notna().any()


def test_loss_history_and_loss_fell():
    state = SimpleNamespace(
        log_history=[
            {"loss": 5.0, "step": 1},
            {"loss": 4.0, "step": 2},
            {"eval_loss": 4.5, "step": 2},
            {"loss": 3.0, "step": 3},
            {"loss": 2.0, "step": 4},
            {"eval_loss": 2.5, "step": 4},
            {"train_runtime": 1.0, "step": 4},
        ]
    )
    history = loss_history(state)
    assert history.index.tolist() == [1, 2, 3, 4]
    assert history["eval_loss"].dropna().tolist() == [4.5, 2.5]
    assert loss_fell(history, window=2)
    assert not loss_fell(history.iloc[::-1].reset_index(drop=True), window=2)
    with pytest.raises(LabsError, match="train for more steps"):
        loss_fell(history.iloc[:1])
