"""The transformer opened up: positional encodings, T5's relative position buckets, attention
recomputed from the weights, contextual vectors and greedy decoding as a plain loop.

Notebook 01 writes these steps out in its cells; the functions here are the same steps as code
that the tests run on the stand-in (every layer, several inputs), so the lesson stays checked.
They work on T5-family models (FLAN-T5, the offline stand-in) in float32.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from .errors import LabsError
from .prompting import token_lengths as token_lengths  # notebook 01 counts tokens as anatomy.token_lengths

if TYPE_CHECKING:  # torch and numpy load lazily, so that importing the kit stays fast
    import numpy as np
    import torch

_EAGER_FIX = (
    'Load the model with attn_implementation="eager", e.g. '
    'AutoModelForSeq2SeqLM.from_pretrained(name, dtype=torch.float32, attn_implementation="eager").'
)


def sinusoidal_encoding(n_positions: int, d_model: int) -> np.ndarray:
    """The original transformer's positional encoding: sin on even, cos on odd dimensions."""
    import numpy as np

    if n_positions < 1 or d_model < 2 or d_model % 2:
        raise ValueError(
            f"n_positions={n_positions}, d_model={d_model}: use n_positions >= 1 and an even d_model >= 2."
        )
    positions = np.arange(n_positions)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, d_model, 2) / d_model)  # one frequency per sin/cos pair
    encoding = np.zeros((n_positions, d_model))
    encoding[:, 0::2] = np.sin(positions * rates)
    encoding[:, 1::2] = np.cos(positions * rates)
    return encoding


def relative_position_bucket(
    relative_position, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128
) -> torch.Tensor:
    """T5's bucket for each distance (key position - query position): exact when near, log-spaced when far."""
    import torch

    relative_position = torch.as_tensor(relative_position, dtype=torch.long)
    buckets = torch.zeros_like(relative_position)
    if bidirectional:  # half the buckets for keys after the query, half for keys before it
        num_buckets //= 2
        buckets += (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:  # a decoder only looks back
        distance = (-relative_position).clamp(min=0)
    max_exact = num_buckets // 2
    # Distances from max_exact to max_distance share the remaining buckets on a log scale.
    log_ratio = torch.log(distance.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
    far = (max_exact + (log_ratio * (num_buckets - max_exact)).long()).clamp(max=num_buckets - 1)
    return buckets + torch.where(distance < max_exact, distance, far)


def relative_position_buckets(
    query_length: int, key_length: int, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128
) -> torch.Tensor:
    """The (query_length, key_length) matrix of buckets that T5 looks its position bias up in."""
    import torch

    relative = torch.arange(key_length)[None, :] - torch.arange(query_length)[:, None]
    return relative_position_bucket(relative, bidirectional, num_buckets, max_distance)


def rms_norm(hidden: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """T5's layer norm: divide by the root mean square (no mean subtracted, no bias), then scale."""
    import torch

    return weight * (hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + eps))


@dataclasses.dataclass
class AttentionParts:
    """One encoder self-attention layer, step by step, for one sequence; heads come first."""

    normed: torch.Tensor  # (tokens, d_model) input after T5's RMS layer norm
    queries: torch.Tensor  # (heads, tokens, d_kv)
    keys: torch.Tensor  # (heads, tokens, d_kv)
    values: torch.Tensor  # (heads, tokens, d_kv)
    scores: torch.Tensor  # (heads, tokens, tokens) query . key, NOT divided by sqrt(d_kv)
    bias: torch.Tensor  # (heads, tokens, tokens) relative position bias from the first layer
    weights: torch.Tensor  # (heads, tokens, tokens) softmax(scores + bias) over the keys
    output: torch.Tensor  # (tokens, d_model) the heads' mixed values, concatenated and projected by o


def _check_t5(model) -> None:
    try:
        model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias  # noqa: B018
    except AttributeError:
        raise LabsError(
            f"{type(model).__name__} is not a T5-family model (no encoder.block[0].layer[0].SelfAttention."
            "relative_attention_bias). These helpers follow T5's layout: load FLAN-T5 or the kit's stand-in."
        ) from None


def _check_one_sequence(input_ids) -> None:
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise LabsError(
            f"input_ids has shape {tuple(input_ids.shape)}: pass one sequence, shape (1, tokens), "
            'e.g. tokenizer(text, return_tensors="pt").input_ids.'
        )


def self_attention_by_hand(model, input_ids: torch.Tensor, layer: int = 0) -> AttentionParts:
    """Recompute encoder self-attention of ``layer`` from the model's weights, for one unpadded sequence."""
    import torch

    _check_t5(model)
    _check_one_sequence(input_ids)
    blocks = model.encoder.block
    if not 0 <= layer < len(blocks):
        raise LabsError(f"layer={layer}: the encoder has layers 0 to {len(blocks) - 1}. Pick one of those.")
    sublayer = blocks[layer].layer[0]
    attention, norm = sublayer.SelfAttention, sublayer.layer_norm
    first = blocks[0].layer[0].SelfAttention  # T5 learns the position bias once, in the first layer
    heads, d_kv = attention.n_heads, attention.key_value_proj_dim
    with torch.no_grad():
        if layer == 0:
            hidden = model.encoder.embed_tokens(input_ids)[0]  # T5 does not scale its embeddings
        else:  # the input of layer L is the output of layer L-1
            hidden = model.encoder(input_ids=input_ids, output_hidden_states=True).hidden_states[layer][0]
        normed = rms_norm(hidden, norm.weight, norm.variance_epsilon)
        tokens = normed.shape[0]

        def split_heads(projection):
            return projection(normed).view(tokens, heads, d_kv).transpose(0, 1)

        queries, keys, values = split_heads(attention.q), split_heads(attention.k), split_heads(attention.v)
        scores = queries @ keys.transpose(-1, -2)
        buckets = relative_position_buckets(
            tokens,
            tokens,
            bidirectional=True,
            num_buckets=first.relative_attention_num_buckets,
            max_distance=first.relative_attention_max_distance,
        )
        bias = first.relative_attention_bias.weight[buckets.to(normed.device)].permute(2, 0, 1)
        weights = torch.softmax(scores + bias, dim=-1)
        output = attention.o((weights @ values).transpose(0, 1).reshape(tokens, heads * d_kv))
    return AttentionParts(normed, queries, keys, values, scores, bias, weights, output)


def model_attentions(model, input_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The encoder's self-attention weights as the model reports them, one (1, heads, q, k) tensor per layer."""
    import torch

    _check_one_sequence(input_ids)
    with torch.no_grad():
        attentions = model.encoder(input_ids=input_ids, output_attentions=True).attentions
    if not attentions or attentions[0] is None:
        raise LabsError(
            f"The model returned no attention weights (attn_implementation="
            f"{model.config._attn_implementation!r}). {_EAGER_FIX}"
        )
    return attentions


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two vectors, as a Python float."""
    import torch

    return float(torch.nn.functional.cosine_similarity(a.flatten().float(), b.flatten().float(), dim=0))


def nearest_tokens(model, tokenizer, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` tokens whose input embeddings are closest (cosine) to the first token of ``word``."""
    import torch

    pieces = tokenizer(word, add_special_tokens=False).input_ids
    if not pieces:
        raise LabsError(f"{word!r} becomes no tokens. Pass a word with letters in it.")
    table = model.get_input_embeddings().weight.detach().float()
    with torch.no_grad():
        similarity = torch.nn.functional.cosine_similarity(table, table[pieces[0]][None], dim=-1)
        similarity[pieces[0]] = -2.0  # leave the token itself out
        top = torch.topk(similarity, k)
    return [(tokenizer.convert_ids_to_tokens(int(i)), round(float(s), 4)) for s, i in zip(top.values, top.indices)]


def word_token_positions(tokenizer, text: str, word: str) -> list[int]:
    """Positions of the tokens that cover the first whole-word occurrence of ``word`` in ``text``."""
    import re

    match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text)
    if match is None:
        raise LabsError(f"{word!r} does not occur as a word in the text {text[:60]!r}. Pick a word from the text.")
    offsets = tokenizer(text, return_offsets_mapping=True).offset_mapping
    start, end = match.span()
    return [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]


def word_vectors(model, tokenizer, text: str, word: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``word``'s input embedding and its encoder output in ``text`` (each averaged over its tokens)."""
    import torch

    positions = word_token_positions(tokenizer, text, word)
    inputs = tokenizer(text, return_tensors="pt").to(model.device)
    with torch.no_grad():
        embedded = model.get_input_embeddings()(inputs.input_ids)[0]
        contextual = model.get_encoder()(**inputs).last_hidden_state[0]
    return embedded[positions].mean(0), contextual[positions].mean(0)


@dataclasses.dataclass
class GreedyStep:
    """One step of greedy decoding: the token picked and the top candidates with their probabilities."""

    token_id: int
    candidates: list[tuple[int, float]]


def greedy_decode(
    model, input_ids: torch.Tensor, max_new_tokens: int, attention_mask: torch.Tensor | None = None, top_k: int = 5
) -> tuple[torch.Tensor, list[GreedyStep]]:
    """Greedy decoding as a loop (no cache): returns the decoder ids, start token first, and the steps."""
    import torch

    _check_one_sequence(input_ids)
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens}: use 1 or more.")
    config = model.generation_config
    start = config.decoder_start_token_id
    if start is None:
        start = model.config.decoder_start_token_id
    eos = config.eos_token_id if config.eos_token_id is not None else model.config.eos_token_id
    eos_ids = set(eos) if isinstance(eos, (list, tuple)) else {eos}
    steps: list[GreedyStep] = []
    with torch.no_grad():
        encoded = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)  # read the input once
        ids = torch.tensor([[start]], device=input_ids.device)
        for _ in range(max_new_tokens):
            logits = model(
                encoder_outputs=encoded, attention_mask=attention_mask, decoder_input_ids=ids, use_cache=False
            ).logits[0, -1]
            probs = torch.softmax(logits.float(), dim=-1)
            top = torch.topk(probs, top_k)
            next_id = int(logits.argmax())
            steps.append(GreedyStep(next_id, [(int(i), float(p)) for p, i in zip(top.values, top.indices)]))
            ids = torch.cat([ids, torch.tensor([[next_id]], device=ids.device)], dim=-1)
            if next_id in eos_ids:
                break
    return ids, steps


def cross_attention(
    model,
    input_ids: torch.Tensor,
    decoder_ids: torch.Tensor,
    layer: int = -1,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-attention of one decoder layer, (heads, decoder tokens, input tokens), for one sequence."""
    import torch

    _check_one_sequence(input_ids)
    with torch.no_grad():
        out = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_ids,
            output_attentions=True,
            use_cache=False,
        )
    if not out.cross_attentions or out.cross_attentions[0] is None:
        raise LabsError(f"The model returned no cross-attention weights. {_EAGER_FIX}")
    return out.cross_attentions[layer][0]
