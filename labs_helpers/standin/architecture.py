"""The stand-in's shape (FLAN-T5's layout in miniature) and its random initialisation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import T5ForConditionalGeneration

# FLAN-T5's layout without its sizes, as in google/flan-t5-base's config.json: what every T5 the kit
# builds shares with it (the stand-ins here; the benchmarks' full-size model in benchmarks/shapes.py;
# the rlhf tests' tiny T5 in tests/rlhf/tiny_models.py).
# tie_word_embeddings=False is how transformers 5 marks T5 v1.1 / FLAN-T5: no rescaling of the
# decoder output before the LM head (it ties the weights of a newly built T5 either way).
FLAN_T5_LAYOUT = dict(
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
    dropout_rate=0.1,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    layer_norm_epsilon=1e-6,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)
# What generate() needs of the layout: the same ids on every model the kit builds.
GENERATION_IDS = {k: FLAN_T5_LAYOUT[k] for k in ("decoder_start_token_id", "eos_token_id", "pad_token_id")}
# The instant stand-in's shape, and the pre-trained one's at the plan's width (config_for).
MODEL_CONFIG = dict(d_model=128, d_kv=32, num_heads=4, d_ff=256, num_layers=2, num_decoder_layers=2, **FLAN_T5_LAYOUT)


def config_for(d_model: int) -> dict:
    """MODEL_CONFIG at width ``d_model``: a feed-forward twice as wide, one head per ``d_kv`` dimensions."""
    if d_model < 1 or d_model % MODEL_CONFIG["d_kv"]:
        raise ValueError(f"d_model={d_model}: use a positive multiple of {MODEL_CONFIG['d_kv']} (the head size).")
    return MODEL_CONFIG | dict(d_model=d_model, d_ff=2 * d_model, num_heads=d_model // MODEL_CONFIG["d_kv"])


def random_model(
    vocab_size: int, seed: int, config: dict | None = None, scale_embedding: bool = True
) -> T5ForConditionalGeneration:
    """A randomly initialised T5 with the stand-in's shape (or ``config``), the same for the same seed."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(T5Config(vocab_size=vocab_size, **(config or MODEL_CONFIG)))
    if scale_embedding:
        _scale_embedding(model)
    model.generation_config = GenerationConfig(**GENERATION_IDS)
    return model


def _scale_embedding(model: T5ForConditionalGeneration) -> None:
    """Shrink the shared embedding (and LM head) to std d_model**-0.5."""
    import torch

    with torch.no_grad():
        # The embedding is also the LM head. T5 initialises it at std 1, so a new model's logits have
        # std ~sqrt(d_model) and its loss starts near 80; scaled, it starts near log(vocab), and a
        # short fine-tuning run (CI, the labs offline) learns words instead of undoing the scale.
        model.shared.weight.mul_(model.config.d_model**-0.5)


PREVIOUS_TOKEN_BUCKET, NEXT_TOKEN_BUCKET = 1, 17  # T5's bidirectional buckets for relative positions -1 and +1
DECODER_BUCKETS = (1, 2)  # the decoder's (causal) buckets for relative positions -1 and -2


def add_position_prior(model: T5ForConditionalGeneration, strength: float, decoder: float = 0.0) -> None:
    """Encoder heads that look at the previous and the next token; decoder heads at the last two written."""
    import torch

    # Copying a phrase needs each encoder position to know its neighbour (the decoder then finds
    # "the word after the one I just wrote"). T5 learns such heads through its relative position
    # biases, which start near 0 and move about one learning rate per step: measured on the
    # stand-in, copying one or two turns still had a loss of 3.3 after 400 steps. Starting the two
    # heads' biases at ``strength`` (a prior, still trained), the loss was 0.44 after 600 steps.
    bias = model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight  # (buckets, heads)
    with torch.no_grad():
        bias[PREVIOUS_TOKEN_BUCKET, 0] += strength
        bias[NEXT_TOKEN_BUCKET, 1 % model.config.num_heads] += strength
        # The decoder's self-attention starts as near-uniform over what it has written, a bag of words
        # that cannot tell "#Person1#'s" from "#Person1#'s #Person1#'s": give it the last two tokens.
        bias = model.decoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight
        for head, bucket in enumerate(DECODER_BUCKETS):
            bias[bucket, head % model.config.num_heads] += decoder
