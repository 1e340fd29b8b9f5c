"""The precision policy: bf16 autocast where the hardware multiplies bf16 natively, fp32 elsewhere."""

import pytest
import torch

from labs_helpers import LabsError, device
from labs_helpers.device import (
    autocast,
    bf16_copy,
    cpu_bf16_flags,
    generation_precision,
    native_bf16,
    pick_autocast,
    precision_note,
)
from labs_helpers.finetuning import FinetunePlan, training_arguments
from labs_helpers.generation import generate_batched
from labs_helpers.settings import make_settings

ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
SAPPHIRE_RAPIDS = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ZEN2 = "flags\t\t: fpu sse2 avx avx2 fma\n"


def test_cpu_flags_are_read_from_cpuinfo():
    assert cpu_bf16_flags(ZEN4) == ["avx512_bf16"]
    assert cpu_bf16_flags(SAPPHIRE_RAPIDS) == ["amx_bf16", "avx512_bf16"]
    assert cpu_bf16_flags(ZEN2) == [] and cpu_bf16_flags("") == []


def test_autocast_defaults_to_bf16_only_where_native():
    assert pick_autocast("cpu", cpuinfo=ZEN4) == "bfloat16"
    assert pick_autocast("cpu", cpuinfo=SAPPHIRE_RAPIDS) == "bfloat16"
    assert pick_autocast("cpu", cpuinfo=ZEN2) == "off"
    assert pick_autocast("mps") == "off"
    assert pick_autocast("cpu", "off", cpuinfo=ZEN4) == "off"  # asked: obeyed
    assert pick_autocast("cpu", "bfloat16", cpuinfo=ZEN2) == "bfloat16"
    with pytest.raises(LabsError, match="LABS_AUTOCAST='fp16' is not one of bfloat16, off"):
        pick_autocast("cpu", "fp16")


def test_the_run_card_says_which_precision_runs_where_and_why():
    assert native_bf16("cpu", ZEN4) == "cpu: avx512_bf16" and native_bf16("cpu", ZEN2) == ""
    assert precision_note("cpu", "off", ZEN2) == "fp32 everywhere (no native bf16 on this cpu)"
    assert "LABS_AUTOCAST=off" in precision_note("cpu", "off", ZEN4)
    on = precision_note("cpu", "bfloat16", ZEN4)
    assert (
        "batched generation on a bf16 copy of the weights (cpu: avx512_bf16)" in on and "checks by hand in fp32" in on
    )
    assert "no native bf16" in precision_note("cpu", "bfloat16", ZEN2)
    card = make_settings({"LABS_PROFILE": "offline", "LABS_DEVICE": "cpu", "LABS_AUTOCAST": "bfloat16"}).run_card()
    assert "precision" in card and "bf16 autocast" in card


def test_fine_tuning_follows_the_settings_autocast(tmp_path):
    for mode, expected in (("bfloat16", True), ("off", False)):
        settings = make_settings({"LABS_PROFILE": "offline", "LABS_DEVICE": "cpu", "LABS_AUTOCAST": mode})
        plan = FinetunePlan.from_settings("full", settings, "unused")
        assert plan.bf16 is expected and training_arguments(tmp_path, plan).bf16 is expected
        assert FinetunePlan.from_settings("full", settings, "unused", bf16=False).bf16 is False  # --fp32 wins


def _linear_output_dtypes(model, tokenizer, mode):
    """The dtypes the LM head produced while ``generate_batched`` ran under autocast ``mode``."""
    seen = set()
    hook = model.lm_head.register_forward_hook(lambda module, args, out: seen.add(out.dtype))
    try:
        texts = generate_batched(model, tokenizer, ["a b c", "d e"], max_new_tokens=3, progress=False, autocast=mode)
    finally:
        hook.remove()
    return seen, texts


def test_batched_generation_runs_under_autocast_only_when_asked(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    seen, _ = _linear_output_dtypes(model, tokenizer, "off")
    assert seen == {torch.float32}
    seen, texts = _linear_output_dtypes(model, tokenizer, "bfloat16")
    assert seen == {torch.bfloat16} and len(texts) == 2
    assert next(model.parameters()).dtype == torch.float32  # autocast never converts the weights
    with autocast("cpu", "off"):
        assert not torch.is_autocast_enabled("cpu")


def test_the_precision_quality_script_compares_each_bf16_precision_with_fp32(model_and_tokenizer, dataset):
    from benchmarks.precision_quality import compare_precisions
    from labs_helpers.evaluation import eval_dialogues

    model, tokenizer = model_and_tokenizer
    test = eval_dialogues(dataset["test"], 3)
    got = compare_precisions(model, tokenizer, list(test["dialogue"]), list(test["references"]), seed=0)
    assert set(got) == {"fp32", "bf16-autocast", "bf16-weights"}
    for precision, result in got.items():
        low, mid, high = result["rouge"]["rouge1"]
        assert 0 <= low <= mid <= high <= 1 and result["seconds"] >= 0, precision
    for precision in ("bf16-autocast", "bf16-weights"):
        for kind in ("rouge1", "rougeL"):
            low, mean, high = got[precision][f"{kind}_minus_fp32"]
            assert low <= mean <= high
        same, n = got[precision]["identical"].split("/")
        assert n == "3" and 0 <= int(same) <= 3 and len(got[precision]["examples"]) == 3
    assert next(model.parameters()).dtype == torch.float32  # the bf16 weights were a copy


def test_the_precision_quality_script_refuses_an_unknown_precision():
    from benchmarks.precision_quality import parse_args

    assert parse_args(["--dataset", "d", "--precisions", "bf16-weights"]).precisions == ("bf16-weights",)
    with pytest.raises(SystemExit):
        parse_args(["--dataset", "d", "--precisions", "fp16"])


def test_generation_precision_follows_autocast_and_the_one_switch(monkeypatch):
    assert generation_precision("off") == "fp32"
    assert generation_precision("bfloat16") == device.BF16_GENERATION == "bf16-weights"  # the default
    assert generation_precision("bfloat16", "fp32") == "fp32"  # asked: obeyed
    assert "bf16 copy of the weights" in precision_note("cpu", "bfloat16", ZEN4)
    monkeypatch.setattr(device, "BF16_GENERATION", "bf16-autocast")
    assert generation_precision("bfloat16") == "bf16-autocast" and generation_precision("off") == "fp32"
    with pytest.raises(LabsError, match="precision='fp16' is not one of fp32, bf16-autocast, bf16-weights"):
        generation_precision("off", "fp16")
    with pytest.raises(LabsError, match="autocast='float16'"):
        generation_precision("float16")


def test_the_bf16_copy_leaves_the_model_as_it_was(model_and_tokenizer):
    model, _ = model_and_tokenizer
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    copy = bf16_copy(model)
    assert all(p.dtype == torch.bfloat16 for p in copy.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
    assert copy.encoder.embed_tokens.weight is copy.shared.weight  # shared weights stay shared in the copy
    assert not any(p.requires_grad for p in copy.parameters()) and copy.training == model.training


def _lm_head_dtypes(model, tokenizer, **precision):
    """The (output, weight) dtypes of the LM head while ``generate_batched`` ran with ``precision``."""
    seen = set()
    hook = model.lm_head.register_forward_hook(lambda m, args, out: seen.add((out.dtype, m.weight.dtype)))
    try:  # the hook travels with a bf16 copy, so it sees the copy's LM head too
        generate_batched(model, tokenizer, ["a b c", "d e"], max_new_tokens=3, progress=False, **precision)
    finally:
        hook.remove()
    return seen


def test_batched_generation_runs_in_the_precision_asked_for(model_and_tokenizer, monkeypatch):
    model, tokenizer = model_and_tokenizer
    bf16, fp32 = torch.bfloat16, torch.float32
    assert _lm_head_dtypes(model, tokenizer, precision="fp32") == {(fp32, fp32)}
    assert _lm_head_dtypes(model, tokenizer, precision="bf16-autocast") == {(bf16, fp32)}
    assert _lm_head_dtypes(model, tokenizer, precision="bf16-weights") == {(bf16, bf16)}
    assert _lm_head_dtypes(model, tokenizer, autocast="bfloat16") == {(bf16, bf16)}  # the default
    monkeypatch.setattr(device, "BF16_GENERATION", "bf16-autocast")
    assert _lm_head_dtypes(model, tokenizer, autocast="bfloat16") == {(bf16, fp32)}
    assert next(model.parameters()).dtype == fp32 and not model.training


def test_summaries_pass_the_precision_on(model_and_tokenizer):
    from labs_helpers.evaluation import summarize_dialogues

    model, tokenizer = model_and_tokenizer
    seen = set()
    hook = model.lm_head.register_forward_hook(lambda m, args, out: seen.add(m.weight.dtype))
    try:
        texts = summarize_dialogues(model, tokenizer, ["#Person1#: Hi."], max_new_tokens=3, precision="bf16-weights")
    finally:
        hook.remove()
    assert seen == {torch.bfloat16} and len(texts) == 1
    assert next(model.parameters()).dtype == torch.float32
