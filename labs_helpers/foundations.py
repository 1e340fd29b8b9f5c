"""Week 1's ideas made runnable on tiny models: recurrence against attention, the feed-forward block,
and the pre-training objectives of the three transformer families.

- ``step_times``: seconds for an RNN that reads a sequence one step after another, and for
  self-attention that reads it in one parallel pass, as the sequence grows;
- ``first_token_gradient``: how much the last output depends on the first input (the gradient
  that reaches it), the long-range dependency problem of RNNs;
- ``feed_forward_by_hand``: T5's gated-GELU feed-forward block from its weights ``wi_0, wi_1, wo``;
- ``masked_tokens``, ``next_token``, ``span_corruption``: each family's (input, target) pair;
  ``sentinel_spans`` reads a span-corruption target (or a model's answer) gap by gap;
  ``tiny_encoder`` and ``tiny_decoder`` are BERT- and GPT-2-shaped models to score them with.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import TYPE_CHECKING, Iterator, Sequence

from .standin.tasks import span_corruption

if TYPE_CHECKING:
    import torch

__all__ = [
    "feed_forward_by_hand",
    "first_token_gradient",
    "masked_tokens",
    "next_token",
    "sentinel_spans",
    "span_corruption",
    "step_times",
    "tiny_decoder",
    "tiny_encoder",
]


def _layers(width: int, seed: int):
    """An RNN cell and a one-head self-attention layer of the same width, seeded."""
    import torch

    torch.manual_seed(seed)
    return torch.nn.RNNCell(width, width), torch.nn.MultiheadAttention(width, num_heads=1, batch_first=True)


def _rnn(cell, x):
    """Run ``cell`` over ``x`` (1, T, width) one step after another; the hidden state of every step."""
    import torch

    hidden, states = torch.zeros(1, x.shape[-1]), []
    for t in range(x.shape[1]):  # step t needs step t - 1: no way to run them side by side
        hidden = cell(x[:, t], hidden)
        states.append(hidden)
    return torch.stack(states, dim=1)


def _best_seconds(run, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``run``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


@contextlib.contextmanager
def _restore_threads(threads: int) -> Iterator[None]:
    """Set torch's thread count back to ``threads`` on the way out."""
    import torch

    try:
        yield
    finally:
        torch.set_num_threads(threads)


def step_times(lengths: Sequence[int], width: int = 64, seed: int = 0, repeats: int = 3) -> list[dict]:
    """For each length: best-of-``repeats`` seconds (one thread) of the RNN's step loop and of one attention pass."""
    import torch

    cell, attention = _layers(width, seed)
    rows, threads = [], torch.get_num_threads()
    # One thread: on a busy machine, waking a thread pool costs more than these tiny products themselves.
    torch.set_num_threads(1)
    with _restore_threads(threads), torch.no_grad():
        for n in lengths:
            x = torch.randn(1, n, width, generator=torch.Generator().manual_seed(seed))
            rnn = _best_seconds(lambda x=x: _rnn(cell, x), repeats)
            parallel = _best_seconds(lambda x=x: attention(x, x, x), repeats)
            rows.append({"tokens": n, "rnn steps": n, "rnn seconds": rnn, "attention seconds": parallel})
    return rows


def first_token_gradient(length: int, width: int = 64, seed: int = 0) -> dict[str, float]:
    """Size of d(last output) / d(first input) for the RNN and for self-attention on a random sequence."""
    import torch

    cell, attention = _layers(width, seed)
    sizes = {}
    for name in ("rnn", "attention"):
        x = torch.randn(1, length, width, generator=torch.Generator().manual_seed(seed)).requires_grad_(True)
        out = _rnn(cell, x) if name == "rnn" else attention(x, x, x)[0]
        out[0, -1].sum().backward()
        sizes[name] = float(x.grad[0, 0].norm())
    return sizes


def feed_forward_by_hand(layer, x: torch.Tensor) -> torch.Tensor:
    """T5's feed-forward sub-layer from its weights: x + wo(gelu(wi_0 · norm(x)) * wi_1 · norm(x)), no dropout."""
    import torch

    norm, dense = layer.layer_norm, layer.DenseReluDense
    x_norm = norm.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    gate = torch.nn.functional.gelu(x_norm @ dense.wi_0.weight.T, approximate="tanh")  # T5's gelu_new
    return x + (gate * (x_norm @ dense.wi_1.weight.T)) @ dense.wo.weight.T


def masked_tokens(ids: Sequence[int], mask_id: int, rng: random.Random, density: float = 0.15) -> tuple[list, list]:
    """Encoder-only (BERT) pre-training: some tokens become ``mask_id``; labels are -100 except there."""
    chosen = set(rng.sample(range(len(ids)), max(1, round(density * len(ids)))))
    inputs = [mask_id if i in chosen else t for i, t in enumerate(ids)]
    return inputs, [t if i in chosen else -100 for i, t in enumerate(ids)]


def next_token(ids: Sequence[int]) -> tuple[list, list]:
    """Decoder-only (GPT) pre-training: each position predicts the token after it."""
    return list(ids[:-1]), list(ids[1:])


def sentinel_spans(ids: Sequence[int], sentinels: Sequence[int], drop: Sequence[int] = ()) -> dict[int, list[int]]:
    """The tokens after each sentinel of ``ids`` up to the next one, keyed by the sentinel's place in ``sentinels``.

    Tokens before the first sentinel and those in ``drop`` (pad, end of sequence) are left out; a sentinel
    that ``ids`` does not contain has no key, so a model's answer that skips a gap shows as a missing key.
    """
    rank = {s: i for i, s in enumerate(sentinels)}
    spans: dict[int, list[int]] = {}
    current = None
    for t in ids:
        if t in rank:
            current = rank[t]
            spans.setdefault(current, [])
        elif current is not None and t not in drop:
            spans[current].append(t)
    return spans


def tiny_encoder(vocab_size: int, seed: int = 0):
    """A BERT-shaped masked-language model with 2 layers of width 64 (random weights)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128
    )
    return BertForMaskedLM(config).eval()


def tiny_decoder(vocab_size: int, seed: int = 0):
    """A GPT-2-shaped causal language model with 2 layers of width 64 (random weights)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_embd=64, n_layer=2, n_head=2, n_positions=512)).eval()
