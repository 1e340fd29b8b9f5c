"""The pre-trained offline stand-in: the instant stand-in's small T5, trained once on the dialogues.

FLAN-T5 arrives knowing English and following instructions, but it was not fine-tuned on the
summaries the labs fine-tune it on. The offline stand-in mirrors that situation at toy scale.
Starting from the instant stand-in's architecture (a 1.4M-parameter T5 with FLAN-T5's layout),
it is trained from scratch on the train split's *dialogues and topics*, never its summaries,
with a mixture of three tasks:

- ``span_corruption``: T5's own pre-training objective: spans of a dialogue are replaced by the
  sentinels ``<extra_id_N>``, and the model writes the missing spans (it learns the language);
- ``topic``: FLAN-T5's dialogue template ("What was going on?") and a few paraphrases, answered
  with the dialogue's ``topic`` (it learns to answer an instruction about a dialogue);
- ``next_turn``: the first turns of a dialogue and a question, answered with the next turn (it
  learns to write whole sentences about the people in the dialogue).

So prompting it yields words about the dialogue (a topic, a next line), and fine-tuning on the
summaries still has everything to teach: the labs' effects show up offline, in numbers.

The build takes a few minutes on two CPU cores, once: it shows a progress bar with the time
left, saves a checkpoint every ``checkpoint_every`` steps into ``<folder>.inprogress`` (an
interrupted build resumes there, with the same result), and publishes the finished model with
an atomic rename, the completion marker written last. The batches of step ``s`` and the
initial weights depend only on the seed, so the same seed gives the same model on the same
machine and thread count (fp32 on CPU).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import shutil
import time
from pathlib import Path
from typing import Sequence

from .errors import LabsError
from .prompts import TEMPLATES
from .standin import (
    COMPLETE_MARKER, EXTRA_IDS, MODEL_CONFIG, _write_atomically, cache_key, fingerprint, is_complete,
    random_model, train_tokenizer,
)

PRETRAIN_VERSION = 2  # 2: saved with dropout 0 (measured: fine-tuning gains +0.12 ROUGE-1, not +0.08)
TASKS = ("span_corruption", "topic", "next_turn")
# FLAN-T5's template for dialogues first; the paraphrases teach "a question about the dialogue".
TOPIC_TEMPLATES = (
    TEMPLATES["flan"],
    "\nDialogue:\n\n{dialogue}\n\nWhat is this conversation about?\n",
    "{dialogue}\n\nWhat are they talking about?",
    "Read the conversation and name its topic.\n\n{dialogue}\n\nTopic: ",
)
NEXT_TURN_TEMPLATES = (
    "{dialogue}\n\nWhat does {speaker} say next?\n",
    "Continue the conversation.\n\n{dialogue}\n",
)
_SPEAKER = re.compile(r"^(#[^#:]+#):")


@dataclasses.dataclass(frozen=True)
class PretrainPlan:
    """How the stand-in is pre-trained; every field but ``checkpoint_every`` is in the cache key."""

    steps: int = 500
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 30
    max_input_tokens: int = 256
    max_target_tokens: int = 64
    noise_density: float = 0.15
    mean_span_length: float = 3.0
    task_mix: tuple[tuple[str, float], ...] = (("span_corruption", 0.5), ("topic", 0.2), ("next_turn", 0.3))
    max_passes: int = 50  # at most this many examples per dialogue: a small dataset builds in seconds
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.task_mix if name not in TASKS]
        if unknown or not self.task_mix:
            raise ValueError(f"task_mix {self.task_mix!r}: use names from {', '.join(TASKS)} with positive weights.")
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError("steps, batch_size and checkpoint_every must be at least 1.")

    def key_fields(self) -> dict:
        """The fields that decide the weights (everything but how often to checkpoint)."""
        fields = dataclasses.asdict(self)
        fields.pop("checkpoint_every")
        fields["task_mix"] = [list(pair) for pair in self.task_mix]
        return fields

    def steps_for(self, n_dialogues: int) -> int:
        """Optimizer steps for ``n_dialogues``: ``steps``, or fewer for a small dataset."""
        return max(1, min(self.steps, math.ceil(self.max_passes * n_dialogues / self.batch_size)))


DEFAULT_PLAN = PretrainPlan()


@dataclasses.dataclass(frozen=True)
class Corpus:
    """What the stand-in is pre-trained on: the train split's dialogues and topics (no summaries)."""

    dialogues: tuple[str, ...]
    topics: tuple[str, ...]

    @classmethod
    def from_dataset(cls, dataset) -> "Corpus":
        """The unique train dialogues (first-seen order) with their topics."""
        seen: dict[str, str] = {}
        for dialogue, topic in zip(dataset["train"]["dialogue"], dataset["train"]["topic"]):
            if dialogue and dialogue.strip() and dialogue not in seen:
                seen[dialogue] = (topic or "").strip()
        if not seen:
            raise LabsError("The train split has no dialogues to pre-train the stand-in on. "
                            "Point LABS_DATASET at DialogSum (or unset it to use the sample in data/).")
        return cls(tuple(seen), tuple(seen.values()))

    def texts(self) -> list[str]:
        """The texts the tokenizer learns from: dialogues, topics and the prompt templates."""
        templates = [t.format(dialogue="", speaker="#Person1#") for t in TOPIC_TEMPLATES + NEXT_TURN_TEMPLATES]
        return list(self.dialogues) + [t for t in self.topics if t] + templates

    def fingerprint(self) -> str:
        """A hash of the dialogues and topics."""
        return fingerprint(self.dialogues + ("\x01",) + self.topics)


def pretrained_key(corpus: Corpus, seed: int, plan: PretrainPlan | None = None) -> str:
    """The cache key: data, seed, model config, vocabulary, task mix, templates and step budget."""
    plan = plan or DEFAULT_PLAN
    extra = dict(pretrain_version=PRETRAIN_VERSION, plan=plan.key_fields(),
                 steps=plan.steps_for(len(corpus.dialogues)), templates=TOPIC_TEMPLATES + NEXT_TURN_TEMPLATES)
    return cache_key("pretrained", corpus.fingerprint(), seed, extra)


def pretrained_folder(settings, dataset=None, plan: PretrainPlan | None = None) -> Path:
    """Where the pre-trained stand-in for these settings lives in the cache (built or not)."""
    from .data import load_dialogsum

    dataset = dataset if dataset is not None else load_dialogsum(settings.dataset)
    return settings.cache_dir / f"standin-pretrained-{pretrained_key(Corpus.from_dataset(dataset), settings.seed, plan)}"


def ensure_pretrained(settings, dataset=None, plan: PretrainPlan | None = None, progress: bool = True) -> Path:
    """The pre-trained stand-in's folder, built (minutes, once) if it is not in the cache yet."""
    from .data import load_dialogsum

    dataset = dataset if dataset is not None else load_dialogsum(settings.dataset)
    plan = plan or DEFAULT_PLAN
    corpus = Corpus.from_dataset(dataset)
    folder = settings.cache_dir / f"standin-pretrained-{pretrained_key(corpus, settings.seed, plan)}"
    if is_complete(folder):
        return folder
    try:
        return build_pretrained(corpus, folder, settings.seed, plan, progress=progress)
    except OSError as error:
        raise LabsError(
            f"Could not write the pre-trained stand-in to {folder} ({error.strerror or error}). "
            "Set LABS_CACHE to a folder you can write to."
        ) from error


def build_pretrained(corpus: Corpus, folder: Path, seed: int, plan: PretrainPlan = DEFAULT_PLAN,
                     progress: bool = True) -> Path:
    """Pre-train the stand-in into ``folder`` (resuming ``<folder>.inprogress``) and return it."""
    from filelock import FileLock

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # a second process waits, then finds it built
        if is_complete(folder):
            return folder
        return _build_locked(corpus, folder, seed, plan, progress)


def _build_locked(corpus: Corpus, folder: Path, seed: int, plan: PretrainPlan, progress: bool) -> Path:
    import torch
    from tqdm.auto import tqdm

    steps = plan.steps_for(len(corpus.dialogues))
    work = folder.with_name(folder.name + ".inprogress")
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = _work_tokenizer(corpus, work)
    model, optimizer, start = _start(work / "checkpoint.pt", len(tokenizer), seed, plan, steps)
    batches = _BatchMaker(corpus, tokenizer, plan, seed)

    if progress:
        resumed = f", resuming at step {start}" if start else ""
        print(f"Pre-training the offline stand-in once ({steps} steps{resumed}; a few minutes on a laptop CPU), "
              f"then cached in {folder}.\nIt learns from the train dialogues and topics, never the summaries. "
              "If interrupted, the next run resumes from the last checkpoint.", flush=True)
    began = time.perf_counter()
    # Eval mode = no dropout (a few hundred steps underfit anyway), so no random state to carry
    # across a resume: the update of step s depends only on the checkpoint and the batch of step s.
    model.eval()
    with tqdm(total=steps, initial=start, desc="pre-training stand-in", unit="step", disable=not progress) as bar:
        for step in range(start, steps):
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(plan, step, steps)
            loss = model(**batches.batch(step)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.2f}", refresh=False)
            if (step + 1) % plan.checkpoint_every == 0 and step + 1 < steps:
                _save_checkpoint(work / "checkpoint.pt", model, optimizer, step + 1)

    def write(tmp: Path) -> None:
        tokenizer.save_pretrained(tmp)
        # Dropout 0 for fine-tuning too: a 1M-parameter model underfits DialogSum, and with FLAN-T5's 0.1
        # the labs' 300 steps lifted ROUGE-1 by 0.08 at most; without it by 0.12 (see SIZES in settings).
        model.config.dropout_rate = 0.0
        model.save_pretrained(tmp)
        (tmp / "README.md").write_text(model_card(corpus, seed, plan, steps, model.num_parameters()))
        (tmp / COMPLETE_MARKER).write_text(json.dumps(dict(
            kind="pretrained", seed=seed, steps=steps, dialogues=len(corpus.dialogues),
            data=corpus.fingerprint(), plan=plan.key_fields(),
            seconds_this_run=round(time.perf_counter() - began, 1)), indent=1))

    _write_atomically(folder, write)
    shutil.rmtree(work, ignore_errors=True)
    return folder


def _work_tokenizer(corpus: Corpus, work: Path):
    """The tokenizer, trained once per build and kept in the in-progress folder for a resume."""
    from transformers import AutoTokenizer

    saved = work / "tokenizer"
    if (saved / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(saved)
    tokenizer = train_tokenizer(corpus.texts())
    tmp = work / "tokenizer.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer.save_pretrained(tmp)
    tmp.replace(saved)
    return AutoTokenizer.from_pretrained(saved)


def _start(path: Path, vocab_size: int, seed: int, plan: PretrainPlan, steps: int):
    """Model, optimizer and first step: from the last checkpoint, or fresh if there is none (or it is unreadable)."""
    import torch

    def fresh():
        model = random_model(vocab_size, seed)
        return model, torch.optim.AdamW(model.parameters(), lr=plan.learning_rate, weight_decay=0.01)

    model, optimizer = fresh()
    if not path.is_file():
        return model, optimizer, 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return model, optimizer, min(int(state["step"]), steps)
    except Exception:  # unreadable or from another build: start over cleanly
        path.unlink(missing_ok=True)
        model, optimizer = fresh()
        return model, optimizer, 0


def _save_checkpoint(path: Path, model, optimizer, step: int) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp)
    tmp.replace(path)


def _learning_rate(plan: PretrainPlan, step: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < plan.warmup_steps:
        return plan.learning_rate * (step + 1) / plan.warmup_steps
    progress = (step - plan.warmup_steps) / max(1, steps - plan.warmup_steps)
    return plan.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def turns(dialogue: str) -> list[str]:
    """The dialogue's turns, one per non-empty line."""
    return [line.strip() for line in dialogue.splitlines() if line.strip()]


def span_corruption(ids: Sequence[int], sentinels: Sequence[int], rng: random.Random,
                    noise_density: float = 0.15, mean_span_length: float = 3.0) -> tuple[list[int], list[int]]:
    """T5's objective on ``ids``: (input with sentinels in place of spans, target with the spans)."""
    n = len(ids)
    num_noise = min(max(1, round(n * noise_density)), n - 1)
    num_spans = max(1, min(round(num_noise / mean_span_length), num_noise, n - num_noise, len(sentinels)))
    noise = _split(num_noise, num_spans, rng)
    keep = _split(n - num_noise, num_spans, rng)
    inputs, target, at = [], [], 0
    for i, (k, m) in enumerate(zip(keep, noise)):
        inputs += list(ids[at:at + k]) + [sentinels[i]]
        target += [sentinels[i]] + list(ids[at + k:at + k + m])
        at += k + m
    return inputs, target


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` split into ``parts`` positive lengths at random."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0] + cuts + [total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


class _BatchMaker:
    """The batch of step ``s``: a function of (seed, s) only, so a resumed build is the same build."""

    def __init__(self, corpus: Corpus, tokenizer, plan: PretrainPlan, seed: int):
        self.corpus, self.tokenizer, self.plan, self.seed = corpus, tokenizer, plan, seed
        self.names = [name for name, _ in plan.task_mix]
        self.weights = [weight for _, weight in plan.task_mix]
        self.sentinels = [tokenizer.convert_tokens_to_ids(f"<extra_id_{i}>") for i in range(EXTRA_IDS)]
        self._ids: dict[int, list[int]] = {}

    def ids(self, index: int) -> list[int]:
        if index not in self._ids:
            self._ids[index] = self.tokenizer(self.corpus.dialogues[index], add_special_tokens=False,
                                           verbose=False).input_ids
        return self._ids[index]

    def example(self, rng: random.Random) -> tuple[list[int], list[int]]:
        index = rng.randrange(len(self.corpus.dialogues))
        task = rng.choices(self.names, self.weights)[0]
        lines = turns(self.corpus.dialogues[index])
        if task == "topic" and self.corpus.topics[index]:
            prompt = rng.choice(TOPIC_TEMPLATES).format(dialogue="\n".join(self._fit(lines, rng, from_end=False)))
            return self._encode(prompt), self._target(self.corpus.topics[index])
        if task == "next_turn" and len(lines) >= 2:
            cut = rng.randrange(1, len(lines))
            match = _SPEAKER.match(lines[cut])
            speaker = match.group(1) if match else "the next speaker"
            context = "\n".join(self._fit(lines[:cut], rng, from_end=True))
            prompt = rng.choice(NEXT_TURN_TEMPLATES).format(dialogue=context, speaker=speaker)
            return self._encode(prompt), self._target(lines[cut])
        ids = self.ids(index)
        window = self.plan.max_input_tokens - 1
        if len(ids) < 2:
            ids = ids + [self.tokenizer.unk_token_id] * (2 - len(ids))
        begin = rng.randrange(len(ids) - window + 1) if len(ids) > window else 0
        inputs, target = span_corruption(ids[begin:begin + window], self.sentinels, rng,
                                         self.plan.noise_density, self.plan.mean_span_length)
        eos = self.tokenizer.eos_token_id
        return inputs[:window] + [eos], target[:self.plan.max_target_tokens - 1] + [eos]

    def _fit(self, lines: list[str], rng: random.Random, from_end: bool) -> list[str]:
        """As many whole turns as fit the input budget (leaving room for the template)."""
        budget, kept = self.plan.max_input_tokens - 24, []
        for line in (reversed(lines) if from_end else lines):
            budget -= len(line.split()) * 4 // 3 + 2  # words to tokens, roughly; truncation guards the rest
            if budget < 0 and kept:
                break
            kept.append(line)
        return list(reversed(kept)) if from_end else kept

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, truncation=True, max_length=self.plan.max_input_tokens).input_ids

    def _target(self, text: str) -> list[int]:
        return self.tokenizer(text, truncation=True, max_length=self.plan.max_target_tokens).input_ids

    def batch(self, step: int) -> dict:
        """Padded tensors for step ``step``: input_ids, attention_mask, labels (-100 on padding)."""
        import torch

        rng = random.Random(f"labs-pretrain-{self.seed}-{step}")
        pairs = [self.example(rng) for _ in range(self.plan.batch_size)]
        width = max(len(x) for x, _ in pairs)
        depth = max(len(y) for _, y in pairs)
        input_ids = torch.tensor([x + [0] * (width - len(x)) for x, _ in pairs])
        labels = torch.tensor([y + [-100] * (depth - len(y)) for _, y in pairs])
        return dict(input_ids=input_ids, attention_mask=(input_ids != 0).long(), labels=labels)


def model_card(corpus: Corpus, seed: int, plan: PretrainPlan, steps: int, n_params: int) -> str:
    """The README.md written into the stand-in's folder: what it is and what it was trained on."""
    mix = ", ".join(f"{name} {weight:.0%}" for name, weight in plan.task_mix)
    return f"""# Offline stand-in (pre-trained locally), not FLAN-T5

A small T5 with FLAN-T5's layout (T5ForConditionalGeneration, gated-GELU, {MODEL_CONFIG['num_layers']}+{MODEL_CONFIG['num_decoder_layers']} layers,
d_model {MODEL_CONFIG['d_model']}, about {n_params / 1e6:.1f}M parameters; FLAN-T5-base has 248M), built by `labs_helpers.pretrain`
for runs without the Hugging Face Hub. Load it like the real model, with `AutoTokenizer` and
`AutoModelForSeq2SeqLM`.

## What it was trained on

From scratch, for {steps} steps of {plan.batch_size} examples (seed {seed}), on the **dialogues and topics** of
the train split of the dataset in use ({len(corpus.dialogues)} dialogues; data fingerprint `{corpus.fingerprint()[:16]}`).
**It never saw a summary**: fine-tuning on the summaries is left to the labs, as with FLAN-T5.

Task mix ({mix}):

- `span_corruption`: T5's pre-training objective: about {plan.noise_density:.0%} of a dialogue's tokens, in spans of
  about {plan.mean_span_length:g}, are replaced by sentinels `<extra_id_N>`; the target lists the missing spans.
- `topic`: FLAN-T5's dialogue template ("What was going on?") and three paraphrases, answered with
  the dialogue's topic (e.g. "get a check-up").
- `next_turn`: the first turns of a dialogue and "What does #Person2# say next?" (or "Continue the
  conversation."), answered with the next turn.

The tokenizer (SentencePiece unigram, FLAN-T5's special tokens and 100 sentinels) was trained on
the same dialogues, topics and templates. Inputs were cut to {plan.max_input_tokens} tokens, targets to {plan.max_target_tokens}.
Initial weights: the instant stand-in's (same seed). AdamW, peak learning rate {plan.learning_rate:g},
{plan.warmup_steps} warm-up steps then cosine decay, no dropout (nor in the saved config: at this size dropout only slows fine-tuning down).

## What to expect

Prompted to summarize, it answers with words about the dialogue (a topic, a line of dialogue),
not a summary: its zero-shot ROUGE is low. Fine-tuning on the summaries raises it clearly. Its
numbers are a toy model's, never FLAN-T5's.
"""

