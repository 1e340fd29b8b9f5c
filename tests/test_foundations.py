import math
import random

import torch

from labs_helpers import foundations


def test_rnn_steps_grow_with_the_sequence_and_attention_is_one_pass():
    rows = foundations.step_times([4, 16], width=8, repeats=1)
    assert [r["rnn steps"] for r in rows] == [4, 16]
    assert all(r["rnn seconds"] > 0 and r["attention seconds"] > 0 for r in rows)


def test_the_gradient_reaching_the_first_token_fades_in_an_rnn_not_in_attention():
    short, long = foundations.first_token_gradient(4, width=16), foundations.first_token_gradient(200, width=16)
    assert long["rnn"] < 1e-3 * short["rnn"]  # vanishes over 200 steps
    assert long["attention"] > 1e-3 * short["attention"]  # one step away, whatever the length


def test_feed_forward_by_hand_equals_t5s_gated_gelu_layer():
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=50, d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=1, feed_forward_proj="gated-gelu"
    )
    layer = T5ForConditionalGeneration(config).eval().encoder.block[0].layer[-1]
    x = torch.randn(1, 5, 16)
    with torch.no_grad():
        assert torch.allclose(foundations.feed_forward_by_hand(layer, x), layer(x), atol=1e-6)


def test_the_three_objectives_pair_inputs_and_targets():
    ids = list(range(10, 30))
    inputs, labels = foundations.masked_tokens(ids, mask_id=3, rng=random.Random(0))
    masked = [i for i, t in enumerate(inputs) if t == 3]
    assert (
        masked
        and all(labels[i] == ids[i] for i in masked)
        and all(labels[i] == -100 for i in range(20) if i not in masked)
    )
    assert foundations.next_token(ids) == (ids[:-1], ids[1:])
    source, target = foundations.span_corruption(ids, sentinels=[99, 98, 97], rng=random.Random(0))
    assert 99 in source and target[0] == 99
    assert sorted(t for t in source + target if t < 90) == ids  # every token is in exactly one of them
    spans = foundations.sentinel_spans(target, sentinels=[99, 98, 97])
    assert [t for k in sorted(spans) for t in spans[k]] == [t for t in target if t < 90]


def test_sentinel_spans_reads_a_model_answer_gap_by_gap():
    answer = [0, 99, 5, 6, 98, 1, 0]  # pad first, gap 1 answered with nothing, end of sequence and pad after
    assert foundations.sentinel_spans(answer, sentinels=[99, 98, 97], drop=[0, 1]) == {0: [5, 6], 1: []}
    assert foundations.sentinel_spans([7, 97, 8], sentinels=[99, 98, 97]) == {2: [8]}  # before the first: left out


def test_tiny_models_score_their_objective_near_chance():
    encoder, decoder = foundations.tiny_encoder(100), foundations.tiny_decoder(100)
    ids = torch.arange(10, 30)[None]
    labels = torch.full_like(ids, -100)
    labels[0, 3] = 13
    with torch.no_grad():
        mlm = encoder(input_ids=ids, labels=labels).loss.item()
        clm = decoder(input_ids=ids, labels=ids).loss.item()
    assert abs(mlm - math.log(100)) < 1.5 and abs(clm - math.log(100)) < 1.5
