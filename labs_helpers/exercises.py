"""Checkers for the exercises at the end of notebooks 01-05: specific feedback, not only pass/fail.

Each checker takes the learner's answer (a function or a value), tries it on cases whose right
answer it knows, and returns a ``Feedback`` that says what is wrong and gives a hint. A stub
that still raises ``NotImplementedError`` stops the notebook there, with the exercise's hint.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import numpy as np

from .anatomy import model_attentions, self_attention_by_hand, sinusoidal_encoding

HINTS = {
    "01.1": "PE[pos, 2i] = sin(pos / 10000**(2i/d_model)) and PE[pos, 2i+1] = cos(the same angle).",
    "01.2": "T5 attention: RMS-normalise the embeddings with the layer's layer_norm, project with q and k, "
            "split into heads, scores = q @ k.T (no 1/sqrt(d)) + position bias, softmax over the last axis.",
    "02.1": "Keep exactly one {dialogue} placeholder and end with a cue for the summary, e.g. 'Summary:'.",
    "02.2": "Walk through the shots in order and stop at the first one that would push the total over the budget.",
    "03.1": "Sort probabilities in descending order, keep the smallest prefix whose cumulative sum reaches top_p "
            "(the token that crosses p is kept), and set every other logit to -inf.",
    "03.2": "Temperature divides the logits: logits / temperature. Refuse temperature <= 0 with a ValueError.",
    "03.3": "Count distinct n-grams over all texts, divided by the total number of n-grams (0.0 when there are none).",
    "04.1": "Return a copy where every position equal to the pad id becomes -100; keep end-of-sequence tokens.",
    "04.2": "Prompt with the 'finetune' template, tokenize with truncation=True and max_length, no padding; "
            "labels come from tokenizer(text_target=summaries, ...).",
    "05.1": "A LoRA pair on a Linear(in, out) adds r*in + r*out parameters; count every module whose name "
            "ends with one of the target names.",
    "05.2": "Resample example indices with replacement (same indices for both systems) and count how often "
            "the mean of 'after' beats the mean of 'before'.",
}


@dataclasses.dataclass
class Feedback:
    """The outcome of one check: passed or not, what was found, and a hint when it failed."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""

    def __str__(self) -> str:
        if self.passed:
            return f"Exercise {self.exercise}: passed. {self.message}".rstrip()
        return f"Exercise {self.exercise}: not yet. {self.message}\n  Hint: {self.hint or HINTS.get(self.exercise, '')}"

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.passed


def stub(exercise: str) -> None:
    """What an unsolved exercise runs: stop here with the exercise's hint."""
    raise NotImplementedError(f"Exercise {exercise} is yours to solve. Hint: {HINTS[exercise]}")


def _fail(exercise: str, message: str, hint: str = "") -> Feedback:
    return Feedback(exercise, False, message, hint)


def _call(exercise: str, function: Callable, *args) -> tuple[Any, Feedback | None]:
    """Run the learner's function; an exception becomes feedback (a stub's NotImplementedError stops)."""
    try:
        return function(*args), None
    except NotImplementedError:
        raise
    except Exception as error:  # the learner's code failed: say how
        return None, _fail(exercise, f"your function raised {type(error).__name__}: {error}")


# --- 01 transformer anatomy -------------------------------------------------------------------

def check_positional_encoding(function: Callable[[int, int], Any]) -> Feedback:
    """Exercise 01.1: the sinusoidal positional encoding."""
    ex = "01.1"
    for n, d in ((6, 8), (50, 16), (7, 10)):
        got, problem = _call(ex, function, n, d)
        if problem is not None:
            return problem
        got = np.asarray(got, dtype=float)
        want = sinusoidal_encoding(n, d)
        if got.shape != want.shape:
            return _fail(ex, f"for {n} positions and d_model={d} the shape should be {want.shape}, not {got.shape}.")
        if np.allclose(got, want, atol=1e-5):
            continue
        swapped = want.copy()
        swapped[:, 0::2], swapped[:, 1::2] = want[:, 1::2], want[:, 0::2]
        if np.allclose(got, swapped, atol=1e-5):
            return _fail(ex, "sine and cosine are swapped: even dimensions take the sine.")
        if np.allclose(got[0], want[0], atol=1e-5):
            return _fail(ex, "position 0 is right but later positions are not: check the frequencies "
                             "1 / 10000**(2i/d_model), one per pair of dimensions.")
        return _fail(ex, f"the values differ from the formula (first row should be {np.round(want[0, :4], 3).tolist()}...).")
    return Feedback(ex, True, "Your encoding matches the formula for every size tried.")


def attention_reference(model, input_ids, head: int):
    """Encoder layer 0, one head: the attention weights the model reports (output_attentions)."""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")  # sdpa kernels do not return the weights
    try:
        return model_attentions(model, input_ids)[0][0, head]
    finally:
        model.set_attn_implementation(previous)


def check_attention_head(function: Callable, model, input_ids, head: int) -> Feedback:
    """Exercise 01.2: one head of the first encoder layer computed by hand from the weights."""
    import torch

    ex = "01.2"
    got, problem = _call(ex, function, model, input_ids, head)
    if problem is not None:
        return problem
    got = torch.as_tensor(got, dtype=torch.float32)
    want = attention_reference(model, input_ids, head).float()
    if got.shape != want.shape:
        return _fail(ex, f"the weights should have shape {tuple(want.shape)} (query x key), not {tuple(got.shape)}.")
    if torch.allclose(got, want, atol=1e-5):
        return Feedback(ex, True, "Your weights match the model's own within 1e-5.")
    if not torch.allclose(got.sum(-1), torch.ones(got.shape[0]), atol=1e-4):
        return _fail(ex, "the rows do not sum to 1: take the softmax over the keys (the last axis).")
    parts = self_attention_by_hand(model, input_ids, layer=0)
    scores, bias = parts.scores[head], parts.bias[head]
    d = parts.queries.shape[-1]
    variants = {
        "you divided the scores by sqrt(d_kv): T5 does not scale them.": (scores / math.sqrt(d) + bias).softmax(-1),
        "the relative position bias is missing: add model's position bias for this head to the scores.": scores.softmax(-1),
        "the weights are transposed: rows are queries, columns are keys.": (scores + bias).softmax(-1).T,
    }
    for message, variant in variants.items():
        if torch.allclose(got, variant, atol=1e-4):
            return _fail(ex, message)
    return _fail(ex, f"the weights differ from the model's by up to {(got - want).abs().max().item():.3f}; "
                     "did you apply the layer norm before the projections?")


# --- 02 prompt engineering --------------------------------------------------------------------

def check_template(template: str, tokenizer=None, dialogues: Sequence[str] = (), max_tokens: int = 512,
                   scores: tuple[float, float] | None = None) -> Feedback:
    """Exercise 02.1: a prompt template that fits the context and (with a real model) beats zero-shot."""
    ex = "02.1"
    if not isinstance(template, str):
        return _fail(ex, f"the template should be a string, not {type(template).__name__}.")
    count = template.count("{dialogue}")
    if count != 1:
        return _fail(ex, f"the template has {count} '{{dialogue}}' placeholders; it needs exactly one.")
    try:
        template.format(dialogue="x")
    except (KeyError, IndexError, ValueError) as error:
        return _fail(ex, f"the template has other braces Python cannot fill ({error!r}); double them as '{{{{' and '}}}}'.")
    if tokenizer is not None and dialogues:
        longest = max(len(tokenizer(template.format(dialogue=d)).input_ids) for d in dialogues)
        if longest > max_tokens:
            return _fail(ex, f"the longest prompt is {longest} tokens, over the {max_tokens}-token context window.")
    if scores is not None:
        mine, baseline = scores
        if mine <= baseline:
            return _fail(ex, f"ROUGE-1 {mine:.4f} does not beat the zero-shot baseline {baseline:.4f} yet.",
                         "Try FLAN-T5's own phrasing ('What was going on?') or name the speakers' roles.")
        return Feedback(ex, True, f"ROUGE-1 {mine:.4f} beats zero-shot {baseline:.4f}.")
    return Feedback(ex, True, "The template is well formed and fits the context window "
                              "(with a stand-in model the scores are not compared).")


def shots_reference(shot_lengths: Sequence[int], target_length: int, budget: int) -> list[int]:
    """Indices of the leading shots that fit the budget together with the target."""
    totals = target_length + np.cumsum(np.asarray(shot_lengths, dtype=int))
    return list(range(int((totals <= budget).sum())))  # totals only grow, so this is a prefix


def check_fit_shots(function: Callable[[Sequence[int], int, int], Sequence[int]]) -> Feedback:
    """Exercise 02.2: pick as many leading shots as fit a token budget."""
    ex = "02.2"
    cases = [([100, 100, 100], 150, 512), ([300, 50], 300, 512), ([10, 10], 600, 512), ([], 20, 512),
             ([200, 12, 100], 300, 512), ([100, 100], 312, 512)]
    for lengths, target, budget in cases:
        got, problem = _call(ex, function, list(lengths), target, budget)
        if problem is not None:
            return problem
        want = shots_reference(lengths, target, budget)
        if list(got) != want:
            detail = f"shots of {lengths} tokens, target {target}, budget {budget}: expected {want}, got {list(got)}."
            if target > budget and got:
                return _fail(ex, "the target alone is over the budget, so no shot fits. " + detail)
            if len(got) > len(want):
                return _fail(ex, "you took a shot that does not fit; a total exactly at the budget fits, one over does not. " + detail)
            if want and got and list(got) == want[: len(got)]:
                return _fail(ex, "you stopped too early (a total equal to the budget still fits). " + detail)
            return _fail(ex, "keep the shots in their order and stop at the first that does not fit. " + detail)
    return Feedback(ex, True, "Every budget case is right.")


# --- 03 generation configuration --------------------------------------------------------------

def check_top_p(function: Callable) -> Feedback:
    """Exercise 03.1: nucleus (top-p) filtering, compared with transformers' TopPLogitsWarper."""
    import torch
    from transformers import TopPLogitsWarper

    ex = "03.1"
    generator = torch.Generator().manual_seed(0)
    for top_p in (0.1, 0.5, 0.9, 0.99):
        logits = torch.randn(4, 50, generator=generator) * 3
        got, problem = _call(ex, function, logits.clone(), top_p)
        if problem is not None:
            return problem
        got = torch.as_tensor(got)
        want = TopPLogitsWarper(top_p=top_p)(None, logits.clone())
        if got.shape != want.shape:
            return _fail(ex, f"the output should have the logits' shape {tuple(want.shape)}, not {tuple(got.shape)}.")
        kept_got, kept_want = torch.isfinite(got), torch.isfinite(want)
        if torch.equal(kept_got, kept_want):
            if not torch.allclose(got[kept_got], logits[kept_got]):
                return _fail(ex, "the right tokens are kept, but their logits changed: leave kept logits as they are.")
            continue
        if (kept_got & ~kept_want).any() and not (~kept_got & kept_want).any():
            return _fail(ex, f"with top_p={top_p} you keep tokens beyond the nucleus.")
        if (~kept_got & kept_want).any() and not (kept_got & ~kept_want).any():
            fewer = (kept_want.sum(-1) - kept_got.sum(-1)).max().item()
            if fewer == 1:
                return _fail(ex, f"with top_p={top_p} you drop the token that makes the cumulative probability reach p: "
                                 "that is the lesson's '<= p' wording; transformers keeps it.")
            return _fail(ex, f"with top_p={top_p} you keep too few tokens.")
        return _fail(ex, f"with top_p={top_p} you keep different tokens than the nucleus: sort by probability first.")
    return Feedback(ex, True, "Your filter keeps exactly the tokens TopPLogitsWarper keeps.")


def check_temperature(function: Callable) -> Feedback:
    """Exercise 03.2: temperature scaling, compared with TemperatureLogitsWarper."""
    import torch
    from transformers import TemperatureLogitsWarper

    ex = "03.2"
    logits = torch.randn(2, 10, generator=torch.Generator().manual_seed(1))
    for t in (0.5, 1.0, 2.0):
        got, problem = _call(ex, function, logits.clone(), t)
        if problem is not None:
            return problem
        want = TemperatureLogitsWarper(t)(None, logits.clone())
        if not torch.allclose(torch.as_tensor(got), want):
            if torch.allclose(torch.as_tensor(got), logits * t):
                return _fail(ex, "you multiplied by the temperature: divide instead (hot = flatter).")
            return _fail(ex, f"at temperature {t} the result differs from logits / temperature.")
    try:
        function(logits.clone(), 0.0)
    except NotImplementedError:
        raise
    except ValueError:
        return Feedback(ex, True, "Matches TemperatureLogitsWarper and refuses temperature 0.")
    except Exception as error:
        return _fail(ex, f"temperature 0 raised {type(error).__name__}; raise a ValueError with a clear message instead.")
    return _fail(ex, "temperature 0 was accepted: raise a ValueError (transformers does too).")


def distinct_n_reference(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams, across all texts (0.0 when there are none)."""
    grams = [tuple(words[i:i + n]) for words in (t.split() for t in texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def check_distinct_n(function: Callable[[Sequence[str], int], float]) -> Feedback:
    """Exercise 03.3: the distinct-n diversity measure."""
    ex = "03.3"
    cases = [(["a b a b"], 1), (["a b a b"], 2), (["the cat", "the cat"], 2), (["one"], 2), ([], 1),
             (["x y z", "y z w"], 2)]
    for texts, n in cases:
        got, problem = _call(ex, function, list(texts), n)
        if problem is not None:
            return problem
        want = distinct_n_reference(texts, n)
        if not isinstance(got, (int, float)) or not math.isclose(float(got), want, abs_tol=1e-9):
            if want == 0.0:
                return _fail(ex, f"for {texts} and n={n} there are no n-grams: return 0.0.")
            return _fail(ex, f"for {texts} and n={n} expected {want:.3f}, got {got!r}; "
                             "count n-grams across all texts together, not per text.")
    return Feedback(ex, True, "Right on every case.")


# --- 04 full fine-tuning ----------------------------------------------------------------------

def check_label_masking(function: Callable) -> Feedback:
    """Exercise 04.1: label padding replaced by -100 so the loss ignores it."""
    import torch

    ex = "04.1"
    labels = torch.tensor([[37, 8, 1, 0, 0], [5, 1, 0, 0, 0], [9, 9, 9, 9, 1]])
    original = labels.clone()
    got, problem = _call(ex, function, labels, 0)
    if problem is not None:
        return problem
    got = torch.as_tensor(got)
    want = original.masked_fill(original == 0, -100)
    if not torch.equal(labels, original):
        return _fail(ex, "you changed the input tensor in place; return a new one (the batch may be reused).")
    if torch.equal(got, want):
        return Feedback(ex, True, "Padding is masked and end-of-sequence tokens stay in the loss.")
    if (got[original == 1] == -100).any():
        return _fail(ex, "you masked the end-of-sequence token (id 1): the model must learn when to stop.")
    if (got[original == 0] != -100).any():
        return _fail(ex, "some padding positions are still in the loss.")
    return _fail(ex, "you masked real tokens: only positions equal to the pad id become -100.")


def check_tokenize(function: Callable, tokenizer, max_length: int = 512) -> Feedback:
    """Exercise 04.2: the lab's tokenize function without padding to 512."""
    from .prompts import format_prompt

    ex = "04.2"
    batch = {"dialogue": ["#Person1#: Hi.\n#Person2#: Hello there.", "#Person1#: Bye " * 400],
             "summary": ["They greet each other.", "#Person1# says goodbye many times."]}
    got, problem = _call(ex, function, batch, tokenizer)
    if problem is not None:
        return problem
    for key in ("input_ids", "labels"):
        if key not in got:
            return _fail(ex, f"the result has no '{key}'.")
    prompts = [format_prompt("finetune", d) for d in batch["dialogue"]]
    want = tokenizer(prompts, truncation=True, max_length=max_length)
    want_labels = tokenizer(text_target=batch["summary"], truncation=True, max_length=max_length).input_ids
    got_ids = [list(ids) for ids in got["input_ids"]]
    if any(tokenizer.pad_token_id in ids[:-1] for ids in got_ids):
        return _fail(ex, "the inputs are padded: leave padding to the data collator (dynamic padding).")
    if len(got_ids[1]) > max_length:
        return _fail(ex, f"the long dialogue gives {len(got_ids[1])} tokens: truncate to max_length={max_length}.")
    if got_ids != [list(ids) for ids in want.input_ids]:
        return _fail(ex, "the input ids differ from the 'finetune' template's prompt: use format_prompt('finetune', ...).")
    if [list(ids) for ids in got["labels"]] != [list(ids) for ids in want_labels]:
        return _fail(ex, "the labels should be the tokenized summaries (text_target=...).")
    return Feedback(ex, True, "Same ids as the lab's prompt, truncated, and unpadded.")


# --- 05 PEFT / LoRA ---------------------------------------------------------------------------

def lora_reference(model, r: int, target_modules: Sequence[str]) -> int:
    """LoRA's trainable parameters, counted by peft itself on a copy of the model."""
    import copy

    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(r=r, lora_alpha=r, target_modules=list(target_modules), task_type=TaskType.SEQ_2_SEQ_LM)
    peft_model = get_peft_model(copy.deepcopy(model), config)
    return sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


def check_lora_count(function: Callable, model) -> Feedback:
    """Exercise 05.1: predict LoRA's trainable parameters without peft."""
    ex = "05.1"
    for r, targets in ((32, ["q", "v"]), (8, ["q", "k", "v", "o"]), (4, ["wi_0", "wo"])):
        got, problem = _call(ex, function, model, r, targets)
        if problem is not None:
            return problem
        want = lora_reference(model, r, targets)
        if got != want:
            if isinstance(got, int) and got * 2 == want:
                return _fail(ex, f"r={r}, {targets}: you count half ({got:,} of {want:,}): each adapter has two "
                                 "matrices, A (r x in) and B (out x r).")
            if isinstance(got, int) and 0 < got < want:
                return _fail(ex, f"r={r}, {targets}: {got:,} instead of {want:,}: count every matching module, "
                                 "in the encoder and in both decoder attentions (self and cross).")
            return _fail(ex, f"r={r}, {targets}: expected {want:,} trainable parameters, got {got!r}.")
    return Feedback(ex, True, "Your count matches peft's for every rank and target set tried.")


def paired_bootstrap_reference(before: Sequence[float], after: Sequence[float], n: int = 1000, seed: int = 0) -> float:
    """Share of paired bootstrap resamples in which 'after' has the higher mean."""
    rng = np.random.default_rng(seed)
    b, a = np.asarray(before, float), np.asarray(after, float)
    idx = rng.integers(0, len(b), size=(n, len(b)))
    return float((a[idx].mean(1) > b[idx].mean(1)).mean())


def check_paired_bootstrap(function: Callable) -> Feedback:
    """Exercise 05.2: a paired bootstrap of per-example ROUGE before and after fine-tuning."""
    ex = "05.2"
    rng = np.random.default_rng(3)
    before = rng.uniform(0.1, 0.3, 40)
    cases = [(before, before + 0.1, 1.0), (before, before - 0.1, 0.0)]
    noisy_after = before + rng.normal(0.0, 0.05, 40)
    for b, a, expected in cases:
        got, problem = _call(ex, function, list(b), list(a))
        if problem is not None:
            return problem
        if not isinstance(got, (int, float)) or abs(float(got) - expected) > 1e-9:
            return _fail(ex, f"when every example improves the answer is {expected:.1f}, you gave {got!r}.")
    got, problem = _call(ex, function, list(before), list(noisy_after))
    if problem is not None:
        return problem
    want = paired_bootstrap_reference(before, noisy_after)
    if abs(float(got) - want) > 0.08:
        return _fail(ex, f"on noisy data expected about {want:.2f}, got {float(got):.2f}: resample the SAME indices "
                         "for before and after (pairs), with replacement.")
    return Feedback(ex, True, f"about {want:.2f} on the noisy case, as expected.")
