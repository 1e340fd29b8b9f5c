import pytest
import torch

from labs_helpers.errors import LabsError
from labs_helpers.generation import generate_batched
from labs_helpers.prompting import format_prompt


def one_at_a_time(model, tokenizer, prompts, max_new_tokens):
    texts = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt", truncation=True).input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
        texts.append(tokenizer.decode(out[0], skip_special_tokens=True).strip())
    return texts


def test_batched_equals_one_at_a_time_greedy(model_and_tokenizer, dataset):
    model, tokenizer = model_and_tokenizer
    dialogues = dataset["validation"]["dialogue"][:7]
    prompts = [format_prompt("finetune", d) for d in dialogues]
    batched = generate_batched(
        model, tokenizer, prompts, batch_size=3, max_new_tokens=12, progress=False, do_sample=False
    )
    assert batched == one_at_a_time(model, tokenizer, prompts, 12)


def test_order_is_input_order(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    prompts = ["short one", "a much longer prompt " * 20, "medium sized prompt here"]
    together = generate_batched(model, tokenizer, prompts, batch_size=2, max_new_tokens=5, progress=False)
    alone = [generate_batched(model, tokenizer, [p], max_new_tokens=5, progress=False)[0] for p in prompts]
    assert together == alone


def test_restores_training_mode(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.train()
    try:
        generate_batched(model, tokenizer, ["hi"], max_new_tokens=2, progress=False)
        assert model.training
    finally:
        model.eval()


def test_empty_and_bad_batch():
    assert generate_batched(None, None, []) == []
    with pytest.raises(LabsError, match="batch_size=0"):
        generate_batched(None, None, ["x"], batch_size=0)


def test_warns_when_prompts_are_cut(model_and_tokenizer):
    import warnings

    from labs_helpers.generation import TruncatedPromptWarning

    model, tokenizer = model_and_tokenizer
    prompts = ["short", "a much longer prompt " * 10]
    with pytest.warns(TruncatedPromptWarning, match="1 of 2 prompts are longer than 8 tokens"):
        cut = generate_batched(model, tokenizer, prompts, max_new_tokens=3, max_input_tokens=8, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = generate_batched(model, tokenizer, prompts, max_new_tokens=3, progress=False)
    assert full[0] == cut[0]  # the prompt that fits is not affected
