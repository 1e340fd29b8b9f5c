import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from labs_helpers import LabsError
from labs_helpers.training import (
    SimulatedInterruption, add_lora, check_lora_config, check_output_dir, count_parameters, describe_parameters,
    find_checkpoint, finetune, format_bytes, interrupt_after, latest_final, loss_fell, loss_history, make_collator,
    module_names, new_run_folder, prepare_data, quantize_int8, size_on_disk, state_dict_bytes, tokenize_function,
    truncation_report,
)

# Small enough for seconds on two CPU cores: 6 steps of 2 examples, prompts cut to 64 tokens.
TINY = dict(steps=6, train_examples=12, batch_size=2, eval_examples=2, max_input_tokens=64, bf16=False)


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
    assert torch.allclose(together, sum(l * n for l, n in zip(alone, lengths)) / sum(lengths), atol=1e-5)


def test_truncation_report_counts_what_is_cut(model_and_tokenizer, dataset):
    _, tokenizer = model_and_tokenizer
    split = dataset["train"].select(range(8))
    lengths = [len(tokenizer(lab_prompt(d)).input_ids) for d in split["dialogue"]]
    limit = sorted(lengths)[4]
    report = truncation_report(split, tokenizer, max_input_tokens=limit, max_target_tokens=1000)
    assert report == {"examples": 8, "inputs_truncated": sum(n > limit for n in lengths), "targets_truncated": 0,
                      "longest_input": max(lengths), "longest_target": report["longest_target"]}
    data = prepare_data(dataset, tokenizer, train_examples=8, eval_examples=3, max_input_tokens=limit)
    assert max(len(ids) for ids in data["train"]["input_ids"]) == limit
    assert len(data["validation"]) == min(3, len(dataset["validation"]))


def test_new_run_folder_never_reuses_a_folder(tmp_path):
    first = new_run_folder(tmp_path, "full")
    (first / "keep.txt").write_text("earlier run")
    second = new_run_folder(tmp_path, "full")
    assert (first.name, second.name) == ("full-001", "full-002")
    assert (first / "keep.txt").read_text() == "earlier run"
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(LabsError, match="Cannot create a run folder"):
        new_run_folder(blocker / "sub")


def test_check_output_dir_refuses_a_used_or_unwritable_folder(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "model.safetensors").write_text("weights")
    with pytest.raises(LabsError, match="never overwrites a run"):
        check_output_dir(used)
    assert (used / "model.safetensors").read_text() == "weights"
    assert check_output_dir(used, resume=True) == used
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LabsError, match="Cannot write to"):
        check_output_dir(blocker / "out")
    with pytest.raises(LabsError, match="is a file"):
        check_output_dir(blocker)


def test_find_checkpoint_takes_the_latest_and_names_a_wrong_path(tmp_path):
    for step in (2, 10):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "trainer_state.json").write_text("{}")
        (folder / "model.safetensors").write_text("")
    (tmp_path / "checkpoint-99").mkdir()  # incomplete: no weights
    assert find_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert find_checkpoint(tmp_path / "checkpoint-2") == str(tmp_path / "checkpoint-2")
    with pytest.raises(LabsError, match="is not a checkpoint"):
        find_checkpoint(tmp_path / "checkpoint-99")
    with pytest.raises(LabsError, match="is not a checkpoint"):
        find_checkpoint(tmp_path / "nowhere")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def whole_run(settings, dataset, tmp_path_factory):
    """One uninterrupted tiny full fine-tuning run, shared by the tests below."""
    return finetune("full", settings, tmp_path_factory.mktemp("runs") / "whole-001", dataset=dataset, **TINY)


def test_resume_after_interruption_ends_with_the_same_weights(settings, dataset, tmp_path, whole_run):
    with pytest.raises(SimulatedInterruption):
        finetune("full", settings, tmp_path / "broken", dataset=dataset, callbacks=[interrupt_after(3)], **TINY)
    written = tmp_path / "broken" / "checkpoint-3" / "model.safetensors"
    before = _digest(written)
    assert not (tmp_path / "broken" / "final").exists()
    resumed = finetune("full", settings, tmp_path / "broken", dataset=dataset, resume=tmp_path / "broken", **TINY)
    assert _digest(written) == before  # what was written before the interruption is kept
    assert resumed.trainer.state.global_step == whole_run.trainer.state.global_step == 6
    a, b = whole_run.trainer.model.state_dict(), resumed.trainer.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history["train_loss"].tolist() == pytest.approx(whole_run.history["train_loss"].tolist())


def test_finetune_full_saves_a_model_that_reloads(whole_run):
    from transformers import AutoModelForSeq2SeqLM

    reloaded = AutoModelForSeq2SeqLM.from_pretrained(whole_run.final_dir)
    trained = whole_run.trainer.model.state_dict()
    assert all(torch.equal(trained[k].cpu(), v) for k, v in reloaded.state_dict().items())
    assert latest_final(whole_run.output_dir.parent) == whole_run.final_dir
    history = whole_run.history
    assert set(history.columns) == {"train_loss", "eval_loss"} and history["eval_loss"].notna().any()


def test_lora_errors_are_clear_and_leave_no_run_behind(settings, dataset, model_and_tokenizer):
    from peft import LoraConfig, TaskType

    model, _ = model_and_tokenizer
    assert {"q", "k", "v", "o"} <= set(module_names(model))
    with pytest.raises(LabsError, match="no module named 'query'.*q, "):
        check_lora_config(model, LoraConfig(r=8, target_modules=["query"], task_type=TaskType.SEQ_2_SEQ_LM))
    with pytest.raises(LabsError, match="rank r must be"):
        check_lora_config(model, LoraConfig(r=0, target_modules=["q"], task_type=TaskType.SEQ_2_SEQ_LM))
    runs = Path(settings.run_dir) / "train"
    before = sorted(runs.iterdir()) if runs.exists() else []
    with pytest.raises(LabsError, match="rank r must be"):
        finetune("lora", settings, dataset=dataset, lora={"r": -1}, **TINY)
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before


def test_lora_parameter_count_matches_the_formula_that_gives_the_courses_number(model_and_tokenizer):
    from peft import LoraConfig, TaskType

    model, _ = model_and_tokenizer
    base_total = count_parameters(model)[1]
    peft_model = add_lora(_copy(model), LoraConfig(r=32, lora_alpha=32, target_modules=["q", "v"],
                                                   lora_dropout=0.05, bias="none", task_type=TaskType.SEQ_2_SEQ_LM))
    c = model.config
    attention_blocks = c.num_layers + 2 * c.num_decoder_layers  # encoder self; decoder self + cross
    expected = attention_blocks * 2 * 32 * (c.d_model + c.num_heads * c.d_kv)
    # The same formula on flan-t5-base (12+2*12 blocks, d_model 768, 12 heads of 64) gives the lab's 3,538,944.
    assert 36 * 2 * 32 * (768 + 12 * 64) == 3_538_944
    assert count_parameters(peft_model) == (expected, base_total + expected)
    assert describe_parameters(peft_model).splitlines()[0] == f"trainable model parameters: {expected}"


def _copy(model):
    import copy

    return copy.deepcopy(model)


def test_adapter_saves_reloads_and_merges_to_the_same_outputs(model_and_tokenizer, tmp_path):
    from peft import LoraConfig, PeftModel, TaskType

    model, tokenizer = model_and_tokenizer
    peft_model = add_lora(_copy(model), LoraConfig(r=4, lora_alpha=8, target_modules=["q", "v"],
                                                   task_type=TaskType.SEQ_2_SEQ_LM))
    torch.manual_seed(0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero; make the adapter change something
            param.data.normal_(0, 0.5)
    peft_model.eval()
    peft_model.save_pretrained(tmp_path / "adapter")
    model.save_pretrained(tmp_path / "full")
    inputs = tokenizer(["Summarize: #Person1#: Hello. #Person2#: Hi there."], return_tensors="pt")
    labels = tokenizer(text_target=["They greet."], return_tensors="pt").input_ids
    with torch.no_grad():
        expected = peft_model(**inputs, labels=labels).logits
        reloaded = PeftModel.from_pretrained(_copy(model), tmp_path / "adapter").eval()
        assert torch.allclose(reloaded(**inputs, labels=labels).logits, expected, atol=1e-5)
        merged = reloaded.merge_and_unload()
        assert not any("lora" in n for n, _ in merged.named_parameters())
        assert torch.allclose(merged(**inputs, labels=labels).logits, expected, atol=1e-4)
        assert not torch.allclose(model(**inputs, labels=labels).logits, expected, atol=1e-3)
    assert 0 < size_on_disk(tmp_path / "adapter") < size_on_disk(tmp_path / "full") / 5


def test_loss_history_and_loss_fell():
    state = SimpleNamespace(log_history=[
        {"loss": 5.0, "step": 1}, {"loss": 4.0, "step": 2}, {"eval_loss": 4.5, "step": 2},
        {"loss": 3.0, "step": 3}, {"loss": 2.0, "step": 4}, {"eval_loss": 2.5, "step": 4}, {"train_runtime": 1.0, "step": 4},
    ])
    history = loss_history(state)
    assert history.index.tolist() == [1, 2, 3, 4]
    assert history["eval_loss"].dropna().tolist() == [4.5, 2.5]
    assert loss_fell(history, window=2)
    assert not loss_fell(history.iloc[::-1].reset_index(drop=True), window=2)
    with pytest.raises(LabsError, match="train for more steps"):
        loss_fell(history.iloc[:1])


def test_quantize_int8_is_smaller_and_still_generates(model_and_tokenizer):
    from labs_helpers.evaluation import summarize

    model, tokenizer = model_and_tokenizer
    quantized = quantize_int8(model)
    assert isinstance(model.encoder.block[0].layer[0].SelfAttention.q, torch.nn.Linear)  # original untouched
    assert type(quantized.encoder.block[0].layer[0].SelfAttention.q).__name__ == "Linear" and \
        "quantized" in type(quantized.encoder.block[0].layer[0].SelfAttention.q).__module__
    assert state_dict_bytes(quantized) < 0.75 * state_dict_bytes(model)
    texts = summarize(quantized, tokenizer, ["#Person1#: Hello. #Person2#: Hi."], max_new_tokens=5)
    assert len(texts) == 1 and isinstance(texts[0], str)


def test_sizes(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1500)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x" * 500)
    assert size_on_disk(tmp_path) == 2000 and size_on_disk(tmp_path / "a") == 1500
    assert [format_bytes(n) for n in (999, 1500, 2_500_000, 3_000_000_000)] == ["999 B", "1.5 KB", "2.5 MB", "3.0 GB"]
