"""What each stand-in is, in words: the README written into its folder, and the run card's note."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .architecture import config_for
from .plan import DEFAULT_PLAN

if TYPE_CHECKING:
    from .plan import PretrainPlan
    from .tasks import Corpus

_DEFAULT_GUARD = DEFAULT_PLAN.no_repeat_ngram_size
# Printed on the run card under the settings table: one note per notebook says what the stand-in is.
RUN_CARD_NOTES = {
    "pretrained": f"Offline stand-in: a small T5 (d_model {DEFAULT_PLAN.d_model}; FLAN-T5-base: 768) pre-trained "
    "on this machine on DialogSum's training dialogues and topics\n(copying, retelling, gap-filling, key words, "
    "topic questions, next turn), never on its summaries."
    + (
        f"\nIts generation_config sets no_repeat_ngram_size={_DEFAULT_GUARD} (FLAN-T5's does not)."
        if _DEFAULT_GUARD
        else ""
    )
    + " It is not FLAN-T5: expect toy-scale numbers.",
    "instant": "Offline stand-in: FLAN-T5's layout in miniature, with random weights (for tests and CI): "
    "its words are noise.",
}


def instant_card(n_texts: int, seed: int) -> str:
    """The README.md of the instant stand-in's folder."""
    return (
        "# Offline stand-in (instant)\n\nA small T5 with FLAN-T5's layout and RANDOM weights, built by "
        "labs_helpers for offline runs and tests. It is not FLAN-T5 and has learned nothing: its "
        f"outputs are noise. Tokenizer trained on {n_texts} texts of the dataset in use; seed {seed}.\n"
    )


def pretrained_card(corpus: Corpus, seed: int, plan: PretrainPlan, steps: int, n_params: int) -> str:
    """The README.md of the pre-trained stand-in's folder: what it is and what it was trained on."""
    mix = ", ".join(f"{name} {weight:.0%}" for name, weight in plan.task_mix)
    config = config_for(plan.d_model)
    layers = f"{config['num_layers']}+{config['num_decoder_layers']}"
    return f"""# Offline stand-in (pre-trained locally), not FLAN-T5

A small T5 with FLAN-T5's layout (T5ForConditionalGeneration, gated-GELU, {layers} layers,
d_model {config["d_model"]}, about {n_params / 1e6:.1f}M parameters; FLAN-T5-base has 248M), built by
`labs_helpers.standin` for runs without the Hugging Face Hub. Load it like the real model, with
`AutoTokenizer` and `AutoModelForSeq2SeqLM`.

## What it was trained on

From scratch, for {steps} steps of {plan.batch_size} examples (seed {seed}), on the **dialogues and topics**
of the train split of the dataset in use ({len(corpus.dialogues)} dialogues;
data fingerprint `{corpus.fingerprint()[:16]}`).
**It never saw a summary**: fine-tuning on the summaries is left to the labs, as with FLAN-T5.

Task mix ({mix}):

{_task_lines(plan)}

The tokenizer (SentencePiece unigram, FLAN-T5's special tokens and 100 sentinels) was trained on
the same dialogues, topics and templates. Inputs were cut to {plan.max_input_tokens} tokens,
targets to {plan.max_target_tokens}.
Initial weights: the instant stand-in's (same seed){_prior_line(plan)}.
AdamW, peak learning rate {plan.learning_rate:g}, {plan.warmup_steps} warm-up steps then cosine decay,
no dropout (nor in the saved config: at this size dropout only slows fine-tuning down).

## What to expect

Prompted to summarize, it answers with words about the dialogue (a topic, a line of dialogue),
not a summary: its zero-shot ROUGE is low. Fine-tuning on the summaries raises it clearly. Its
numbers are a toy model's, never FLAN-T5's.{_guard_line(plan)}
"""


def _guard_line(plan: PretrainPlan) -> str:
    """The generation default the plan writes into generation_config.json, if any."""
    if not plan.no_repeat_ngram_size:
        return ""
    return f"""

Its `generation_config.json` sets `no_repeat_ngram_size={plan.no_repeat_ngram_size}` (no sequence of
{plan.no_repeat_ngram_size} tokens twice in one output), as summarization checkpoints often do
(facebook/bart-large-cnn: 3); FLAN-T5's does not. Greedy decoding of a model this small loops
without it ("#Person2#'s #Person2#'s ..."). Pass `no_repeat_ngram_size=0` to `generate` to see that."""


_TASK_LINES = {
    "span_corruption": "T5's pre-training objective: about {noise:.0%} of a dialogue's tokens, in spans of about "
    "{span:g}, are replaced by sentinels `<extra_id_N>`; the target lists the missing spans.",
    "topic": 'FLAN-T5\'s dialogue template ("What was going on?") and three paraphrases, answered with the '
    'dialogue\'s topic (e.g. "get a check-up").',
    "next_turn": 'the first turns of a dialogue and "What does #Person2# say next?" (or "Continue the '
    'conversation."), answered with the next turn.',
    "copy": 'one or two turns and "Repeat it:" (or "Copy the text."), answered with the same turns: it learns to '
    "carry names, objects and numbers from the dialogue into what it writes.",
    "keywords": 'a dialogue and "Key words:" (or a paraphrase), answered with its {keywords} words of highest '
    'TF-IDF against the other train dialogues, in the order they appear (e.g. "Jack, computer, upgrade").',
    "retell": 'one or two turns and "Retell it:" (or a paraphrase), answered with the turns in the third person, '
    'by rule ("#Person1#: Can you help me?" becomes "#Person1# says: Can #Person2# help #Person1#?"): it learns '
    'who "I" and "you" are.',
}


def _task_lines(plan: PretrainPlan) -> str:
    """One bullet per task of the plan's mix."""
    values = dict(noise=plan.noise_density, span=plan.mean_span_length, keywords=plan.keywords)
    lines = [f"- `{name}`: {_TASK_LINES[name].format(**values)}" for name, _ in plan.task_mix]
    if plan.copy_steps:
        lines.append(f"- The first {plan.copy_steps} steps (at most half of them all) are `copy` only.")
    if plan.copy_words:
        lines.append(f"- A copied (or retold) segment ends after at most {plan.copy_words} words.")
    return "\n".join(lines)


def _prior_line(plan: PretrainPlan) -> str:
    """What the position prior did to the initial weights, if the plan has one."""
    parts = []
    if plan.position_prior:
        parts.append(
            "two encoder heads start out looking at the previous and the next token (relative position bias "
            f"{plan.position_prior:g}; still trained): copying needs them"
        )
    if plan.decoder_prior:
        parts.append(
            f"two decoder heads start out looking at the last two tokens written (bias {plan.decoder_prior:g}): "
            "a summary needs them to know what it has just written"
        )
    return ", except that " + "; and ".join(parts) if parts else ""
