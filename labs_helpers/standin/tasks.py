"""What the pre-trained stand-in learns from: the train dialogues and topics, turned into three tasks.

- ``span_corruption``: T5's own pre-training objective: spans of a dialogue are replaced by the
  sentinels ``<extra_id_N>``, and the model writes the missing spans (it learns the language);
- ``topic``: FLAN-T5's dialogue template ("What was going on?") and a few paraphrases, answered
  with the dialogue's ``topic`` (it learns to answer an instruction about a dialogue);
- ``next_turn``: the first turns of a dialogue and a question, answered with the next turn (it
  learns to write whole sentences about the people in the dialogue);
- ``copy``: one or two turns, answered with themselves (it learns to carry words, names and
  numbers from its input to its output, in order: what a summary does with the dialogue's facts);
- ``keywords``: a dialogue, answered with its most telling words (TF-IDF against the other train
  dialogues, in the order they appear): it learns which words of a dialogue matter;
- ``retell``: one or two turns, answered with them in the third person ("I" becomes the speaker,
  "you" the listener; see ``retell``): it learns who "I" and "you" are, as a summary names them.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections import Counter
from typing import TYPE_CHECKING, Sequence

from ..baselines import SPEAKER_TAG, candidate_words
from ..errors import LabsError
from ..prompting import TEMPLATES
from .cache import fingerprint
from .retell import listeners, retell
from .tokenizer import EXTRA_IDS

if TYPE_CHECKING:
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase

    from .plan import PretrainPlan

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
COPY_TEMPLATES = ("{dialogue}\n\nRepeat it: ", "Copy the text.\n\n{dialogue}\n")
KEYWORD_TEMPLATES = ("{dialogue}\n\nKey words: ", "List the important words of this conversation.\n\n{dialogue}\n")
RETELL_TEMPLATES = ("{dialogue}\n\nRetell it: ", "Tell what they said, in the third person.\n\n{dialogue}\n")
_SPEAKER = re.compile(r"^(#[^#:]+#):")
_SURFACE = re.compile(r"[A-Za-z]+")


@dataclasses.dataclass(frozen=True)
class Corpus:
    """What the stand-in is pre-trained on: the train split's dialogues and topics (no summaries)."""

    dialogues: tuple[str, ...]
    topics: tuple[str, ...]

    @classmethod
    def from_dataset(cls, dataset: DatasetDict) -> Corpus:
        """The unique train dialogues (first-seen order) with their topics."""
        seen: dict[str, str] = {}
        for dialogue, topic in zip(dataset["train"]["dialogue"], dataset["train"]["topic"]):
            if dialogue and dialogue.strip() and dialogue not in seen:
                seen[dialogue] = (topic or "").strip()
        if not seen:
            raise LabsError(
                "The train split has no dialogues to pre-train the stand-in on. "
                "Point LABS_DATASET at DialogSum (or unset it to use the sample in data/)."
            )
        return cls(tuple(seen), tuple(seen.values()))

    def texts(self, templates: Sequence[str] = TOPIC_TEMPLATES + NEXT_TURN_TEMPLATES) -> list[str]:
        """The texts the tokenizer learns from: dialogues, topics and the prompt ``templates``."""
        templates = [t.format(dialogue="", speaker="#Person1#") for t in templates]
        return list(self.dialogues) + [t for t in self.topics if t] + templates

    def fingerprint(self) -> str:
        """A hash of the dialogues and topics."""
        return fingerprint(self.dialogues + ("\x01",) + self.topics)


def templates_for(plan: PretrainPlan) -> tuple[str, ...]:
    """The prompt templates of the plan's tasks (the tokenizer learns them, the cache key holds them)."""
    names = {name for name, _ in plan.task_mix} | ({"copy"} if plan.copy_steps else set())
    extra = (COPY_TEMPLATES if "copy" in names else ()) + (KEYWORD_TEMPLATES if "keywords" in names else ())
    extra += RETELL_TEMPLATES if "retell" in names else ()
    return TOPIC_TEMPLATES + NEXT_TURN_TEMPLATES + extra


def document_frequency(dialogues: Sequence[str]) -> Counter:
    """In how many of ``dialogues`` each candidate keyword (see ``keywords``) appears."""
    return Counter(w for d in dialogues for w in set(candidate_words(d)))


def keywords(text: str, frequency: Counter, n_documents: int, k: int = 6) -> str:
    """The ``k`` words of ``text`` with the highest TF-IDF, as written and in order of appearance, joined by commas."""
    counts = Counter(candidate_words(text))
    score = {w: n * math.log(n_documents / (1 + frequency[w])) for w, n in counts.items()}
    top = set(sorted(score, key=lambda w: (-score[w], w))[:k])
    chosen: dict[str, str] = {}
    for word in _SURFACE.findall(SPEAKER_TAG.sub(" ", text)):
        if word.lower() in top and word.lower() not in chosen:
            chosen[word.lower()] = word
    return ", ".join(chosen.values())


def _first_words(text: str, n: int) -> str:
    """``text`` up to and including its ``n``-th word (all of it when ``n`` is 0)."""
    match = re.match(rf"\s*(?:\S+\s+){{{n - 1}}}\S+", text) if n > 0 else None
    return match.group(0) if match else text


def turns(dialogue: str) -> list[str]:
    """The dialogue's turns, one per non-empty line."""
    return [line.strip() for line in dialogue.splitlines() if line.strip()]


def span_corruption(
    ids: Sequence[int],
    sentinels: Sequence[int],
    rng: random.Random,
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
) -> tuple[list[int], list[int]]:
    """T5's objective on ``ids``: (input with sentinels in place of spans, target with the spans)."""
    n = len(ids)
    num_noise = min(max(1, round(n * noise_density)), n - 1)
    num_spans = max(1, min(round(num_noise / mean_span_length), num_noise, n - num_noise, len(sentinels)))
    noise = _split(num_noise, num_spans, rng)
    keep = _split(n - num_noise, num_spans, rng)
    inputs, target, at = [], [], 0
    for i, (k, m) in enumerate(zip(keep, noise)):
        inputs += list(ids[at : at + k]) + [sentinels[i]]
        target += [sentinels[i]] + list(ids[at + k : at + k + m])
        at += k + m
    return inputs, target


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` split into ``parts`` positive lengths at random."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0] + cuts + [total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


class BatchMaker:
    """The batch of step ``s``: a function of (seed, s) only, so a resumed build is the same build."""

    def __init__(self, corpus: Corpus, tokenizer: PreTrainedTokenizerBase, plan: PretrainPlan, seed: int) -> None:
        self.corpus, self.tokenizer, self.plan, self.seed = corpus, tokenizer, plan, seed
        self.names = [name for name, _ in plan.task_mix]
        self.weights = [weight for _, weight in plan.task_mix]
        self.sentinels = [tokenizer.convert_tokens_to_ids(f"<extra_id_{i}>") for i in range(EXTRA_IDS)]
        self._ids: dict[int, list[int]] = {}
        self.copy_until = plan.copy_steps_for(len(corpus.dialogues))
        self.frequency = document_frequency(corpus.dialogues) if "keywords" in self.names else Counter()

    def ids(self, index: int) -> list[int]:
        """Token ids of dialogue ``index`` (cached)."""
        if index not in self._ids:
            dialogue = self.corpus.dialogues[index]
            self._ids[index] = self.tokenizer(dialogue, add_special_tokens=False, verbose=False).input_ids
        return self._ids[index]

    def example(self, rng: random.Random, task: str | None = None) -> tuple[list[int], list[int]]:
        """One (input ids, target ids) pair of ``task``, or of a task drawn with the plan's weights."""
        index = rng.randrange(len(self.corpus.dialogues))
        task = task or rng.choices(self.names, self.weights)[0]
        lines = turns(self.corpus.dialogues[index])
        if task == "topic" and self.corpus.topics[index]:
            prompt = rng.choice(TOPIC_TEMPLATES).format(dialogue="\n".join(self._fit(lines, rng, from_end=False)))
            return self._encode(prompt), self._target(self.corpus.topics[index])
        if task == "next_turn" and len(lines) >= 2:
            return self._next_turn(lines, rng)
        if task in ("copy", "retell"):
            start = rng.randrange(len(lines))
            segment = _first_words("\n".join(lines[start : start + rng.randint(1, 2)]), self.plan.copy_words)
            templates, answer = COPY_TEMPLATES, segment
            if task == "retell":
                told = [retell(line, who) for line, who in zip(segment.split("\n"), listeners(lines)[start:])]
                templates, answer = RETELL_TEMPLATES, "\n".join(told)
            return self._encode(rng.choice(templates).format(dialogue=segment)), self._target(answer)
        if task == "keywords":
            return self._keywords(lines, rng) or self._span_corruption(index, rng)
        return self._span_corruption(index, rng)

    def _next_turn(self, lines: list[str], rng: random.Random) -> tuple[list[int], list[int]]:
        cut = rng.randrange(1, len(lines))
        match = _SPEAKER.match(lines[cut])
        speaker = match.group(1) if match else "the next speaker"
        context = "\n".join(self._fit(lines[:cut], rng, from_end=True))
        prompt = rng.choice(NEXT_TURN_TEMPLATES).format(dialogue=context, speaker=speaker)
        return self._encode(prompt), self._target(lines[cut])

    def _span_corruption(self, index: int, rng: random.Random) -> tuple[list[int], list[int]]:
        ids = self.ids(index)
        window = self.plan.max_input_tokens - 1
        if len(ids) < 2:
            ids = ids + [self.tokenizer.unk_token_id] * (2 - len(ids))
        begin = rng.randrange(len(ids) - window + 1) if len(ids) > window else 0
        inputs, target = span_corruption(
            ids[begin : begin + window], self.sentinels, rng, self.plan.noise_density, self.plan.mean_span_length
        )
        eos = self.tokenizer.eos_token_id
        return inputs[:window] + [eos], target[: self.plan.max_target_tokens - 1] + [eos]

    def _keywords(self, lines: list[str], rng: random.Random) -> tuple[list[int], list[int]] | None:
        """The keywords example; its dialogue loses whole turns until the prompt fits, so every word is seen."""
        template, kept = rng.choice(KEYWORD_TEMPLATES), self._fit(lines, rng, from_end=False)
        prompt = self.tokenizer(template.format(dialogue="\n".join(kept)), verbose=False).input_ids
        while len(prompt) > self.plan.max_input_tokens and len(kept) > 1:
            kept.pop()
            prompt = self.tokenizer(template.format(dialogue="\n".join(kept)), verbose=False).input_ids
        words = keywords("\n".join(kept), self.frequency, len(self.corpus.dialogues), self.plan.keywords)
        return (prompt[: self.plan.max_input_tokens], self._target(words)) if words else None

    def _fit(self, lines: list[str], rng: random.Random, from_end: bool) -> list[str]:
        """As many whole turns as fit the input budget (leaving room for the template)."""
        budget, kept = self.plan.max_input_tokens - 24, []
        for line in reversed(lines) if from_end else lines:
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
        task = None  # drawn per example, unless the plan asks for one task per batch
        if step < self.copy_until:
            task = "copy"  # only copying in the first steps: see PretrainPlan.copy_steps
        elif self.plan.one_task_per_batch:
            task = rng.choices(self.names, self.weights)[0]
        pairs = [self.example(rng, task) for _ in range(self.plan.batch_size)]
        width = max(len(x) for x, _ in pairs)
        depth = max(len(y) for _, y in pairs)
        input_ids = torch.tensor([x + [0] * (width - len(x)) for x, _ in pairs])
        labels = torch.tensor([y + [-100] * (depth - len(y)) for _, y in pairs])
        return dict(input_ids=input_ids, attention_mask=(input_ids != 0).long(), labels=labels)
