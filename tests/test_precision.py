"""The precision policy: bf16 autocast where the hardware multiplies bf16 natively, fp32 elsewhere."""

import pytest
import torch

from labs_helpers import LabsError
from labs_helpers.device import autocast, cpu_bf16_flags, native_bf16, pick_autocast, precision_note
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
    assert "bf16 autocast (cpu: avx512_bf16)" in on and "checks by hand in fp32" in on
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


def test_the_precision_quality_script_compares_both_precisions_on_the_same_dialogues(model_and_tokenizer, dataset):
    from benchmarks.precision_quality import compare_precisions
    from labs_helpers.evaluation import eval_dialogues

    model, tokenizer = model_and_tokenizer
    test = eval_dialogues(dataset["test"], 3)
    got = compare_precisions(model, tokenizer, list(test["dialogue"]), list(test["references"]), seed=0)
    for mode in ("off", "bfloat16"):
        low, mid, high = got[f"{mode}_rouge"]["rouge1"]
        assert 0 <= low <= mid <= high <= 1
    low, mean, high = got["rouge1_bf16_minus_fp32"]
    assert low <= mean <= high
    same, n = got["identical"].split("/")
    assert n == "3" and 0 <= int(same) <= 3 and len(got["examples"]) == 3
