"""LoRA: configurations checked before peft sees them, the lab's parameter count, save/load/merge."""

from pathlib import Path

import pytest
import torch

from labs_helpers import LabsError
from labs_helpers.export import size_on_disk
from labs_helpers.finetuning import FinetunePlan, finetune
from labs_helpers.lora import add_lora, check_lora_config, count_parameters, describe_parameters, module_names


def test_lora_errors_are_clear_and_leave_no_run_behind(settings, dataset, standin_path, model_and_tokenizer):
    from peft import LoraConfig, TaskType

    model, _ = model_and_tokenizer
    assert {"q", "k", "v", "o"} <= set(module_names(model))
    with pytest.raises(LabsError, match="no module named 'query'.*q, "):
        check_lora_config(model, LoraConfig(r=8, target_modules=["query"], task_type=TaskType.SEQ_2_SEQ_LM))
    with pytest.raises(LabsError, match="rank r must be"):
        check_lora_config(model, LoraConfig(r=0, target_modules=["q"], task_type=TaskType.SEQ_2_SEQ_LM))
    runs = Path(settings.run_dir) / "train"
    before = sorted(runs.iterdir()) if runs.exists() else []
    plan = FinetunePlan.from_settings("lora", settings, standin_path, steps=2, lora={"r": -1})
    with pytest.raises(LabsError, match="rank r must be"):
        finetune(plan, dataset, runs_parent=runs)
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before


def test_lora_parameter_count_matches_the_formula_that_gives_the_courses_number(model_and_tokenizer):
    from peft import LoraConfig, TaskType

    model, _ = model_and_tokenizer
    base_total = count_parameters(model)[1]
    peft_model = add_lora(
        _copy(model),
        LoraConfig(
            r=32,
            lora_alpha=32,
            target_modules=["q", "v"],
            lora_dropout=0.05,
            bias="none",
            task_type=TaskType.SEQ_2_SEQ_LM,
        ),
    )
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
    peft_model = add_lora(
        _copy(model), LoraConfig(r=4, lora_alpha=8, target_modules=["q", "v"], task_type=TaskType.SEQ_2_SEQ_LM)
    )
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
