"""A short fine-tuning run of the instant stand-in learns to summarize.

The end-to-end check behind the fine-tuning labs: the kit's stand-in, tokenizer, prompt template,
batched generation and ROUGE together must let a model learn from (prompt, summary) pairs.

Honest on both datasets: it trains on the first 24 train rows (the sample has exactly 24) and
measures ROUGE-1 on validation dialogues it never saw. From 24 dialogues a model can only learn
what summaries look like (who talks, the frequent words), so that is what the held-out gain
measures. Whether the model reads *its* dialogue is checked on the training rows: a summary must
be likelier after its own dialogue than after another one. That fails when the prompt loses the
dialogue (the two are then equal), when labels and prompts are misaligned, and a label leak into
the decoder input makes generation collapse (held-out ROUGE-1 stays at 0).
"""

import random

import pytest
import torch

from labs_helpers.generation import generate_batched
from labs_helpers.metrics import rouge_scores
from labs_helpers.prompting import format_prompt

N_TRAIN, N_HELD_OUT, STEPS, BATCH, LR = 24, 16, 60, 8, 3e-3
MAX_INPUT, MAX_TARGET, MAX_NEW = 512, 128, 48


def prompts(rows) -> list[str]:
    return [format_prompt("finetune", dialogue) for dialogue in rows["dialogue"]]


def rouge1(model, tokenizer, rows) -> float:
    predictions = generate_batched(
        model, tokenizer, prompts(rows), batch_size=16, max_new_tokens=MAX_NEW, progress=False
    )
    return rouge_scores(predictions, list(rows["summary"]))["rouge1"]


def summary_loss(model, tokenizer, rows, shift: int = 0) -> float:
    """Mean token loss of each summary after the dialogue ``shift`` rows further on (0: its own)."""
    dialogues = list(rows["dialogue"])
    dialogues = dialogues[shift:] + dialogues[:shift]
    batch = tokenizer(
        [format_prompt("finetune", d) for d in dialogues],
        text_target=list(rows["summary"]),
        truncation=True,
        max_length=MAX_INPUT,
        padding=True,
        return_tensors="pt",
    )
    batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
    model.eval()
    with torch.inference_mode():
        return model(**batch).loss.item()


def fine_tune(model, tokenizer, rows, steps: int, seed: int = 0) -> None:
    """Plain supervised fine-tuning: prompt -> summary, padded labels masked with -100."""
    from transformers import DataCollatorForSeq2Seq

    features = [
        {
            **tokenizer(prompt, truncation=True, max_length=MAX_INPUT),
            "labels": tokenizer(text_target=summary, truncation=True, max_length=MAX_TARGET).input_ids,
        }
        for prompt, summary in zip(prompts(rows), rows["summary"])
    ]
    collate = DataCollatorForSeq2Seq(tokenizer, model=model)  # pads labels with -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    order, shuffle = [], random.Random(seed)
    torch.manual_seed(seed)
    model.train()
    for _ in range(steps):
        if len(order) < BATCH:
            epoch = list(range(len(features)))
            shuffle.shuffle(epoch)
            order += epoch
        batch = collate([features[i] for i in order[:BATCH]])
        del order[:BATCH]
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()


@pytest.fixture(scope="module")
def run(standin_path, dataset):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(standin_path, dtype=torch.float32)
    train = dataset["train"].select(range(N_TRAIN))
    held_out = dataset["validation"].select(range(min(N_HELD_OUT, len(dataset["validation"]))))
    before = rouge1(model, tokenizer, held_out)
    fine_tune(model, tokenizer, train, STEPS)
    return dict(
        model=model,
        tokenizer=tokenizer,
        train=train,
        held_out=held_out,
        before=before,
        after=rouge1(model, tokenizer, held_out),
    )


def test_fine_tuning_raises_rouge1_on_held_out_dialogues(run):
    assert run["after"] >= run["before"] + 0.08, (run["before"], run["after"])


def test_fine_tuned_model_reads_the_dialogue_it_is_given(run):
    own = summary_loss(run["model"], run["tokenizer"], run["train"])
    other = summary_loss(run["model"], run["tokenizer"], run["train"], shift=1)
    assert other - own > 0.05, (own, other)
