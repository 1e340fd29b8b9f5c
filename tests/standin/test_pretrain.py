"""The pre-trained stand-in, on a tiny budget: atomic, resumable, cached, deterministic, keyed."""

import json
import random

import pytest
import torch

from labs_helpers.errors import LabsError
from labs_helpers.settings import make_settings
from labs_helpers.standin import cache, pretrain, tasks
from labs_helpers.standin.card import RUN_CARD_NOTES
from labs_helpers.standin.plan import DEFAULT_PLAN, FIRST_PLAN, NARROW_PLAN
from labs_helpers.standin.tokenizer import train_tokenizer

TINY = pretrain.PretrainPlan(steps=4, batch_size=4, max_input_tokens=64, max_target_tokens=16, checkpoint_every=2)


@pytest.fixture
def tiny_settings(tmp_path):
    return make_settings(
        {
            "LABS_PROFILE": "offline",
            "LABS_STANDIN": "pretrained",
            "LABS_DEVICE": "cpu",
            "LABS_CACHE": str(tmp_path / "cache"),
            "LABS_RUN_DIR": str(tmp_path / "run"),
        }
    )


@pytest.fixture(scope="module")
def corpus(sample):
    return tasks.Corpus.from_dataset(sample)


def _weights(folder):
    return (folder / "model.safetensors").read_bytes()


def test_build_is_complete_and_loads_like_the_real_model(tiny_settings, sample):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    folder = pretrain.ensure_pretrained(sample, tiny_settings.cache_dir, tiny_settings.seed, plan=TINY, progress=False)
    assert cache.is_complete(folder) and folder.parent == tiny_settings.cache_dir
    assert not folder.with_name(folder.name + ".inprogress").exists()  # checkpoints are cleaned up
    assert json.loads((folder / cache.COMPLETE_MARKER).read_text())["kind"] == "pretrained"
    card = (folder / "README.md").read_text()
    assert "never saw a summary" in card and "span_corruption" in card
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32)
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1)
    assert model.config.dropout_rate == 0.0  # saved without dropout: at this size it only slows fine-tuning
    out = model.generate(**tokenizer(["#Person1#: Hi.\n#Person2#: Hello."], return_tensors="pt"), max_new_tokens=4)
    assert out[0, 0].item() == 0


def test_second_call_reuses_the_cache(tiny_settings, sample, monkeypatch):
    folder = pretrain.ensure_pretrained(sample, tiny_settings.cache_dir, tiny_settings.seed, plan=TINY, progress=False)
    stamp = (folder / cache.COMPLETE_MARKER).stat().st_mtime_ns
    monkeypatch.setattr(pretrain, "_build_locked", lambda *a, **k: pytest.fail("rebuilt a cached stand-in"))
    assert pretrain.ensure_pretrained(sample, tiny_settings.cache_dir, tiny_settings.seed, plan=TINY) == folder
    assert (folder / cache.COMPLETE_MARKER).stat().st_mtime_ns == stamp


def test_resolve_model_builds_the_pretrained_stand_in(tiny_settings, sample, monkeypatch):
    from labs_helpers import resolve_model

    monkeypatch.setattr(pretrain, "DEFAULT_PLAN", TINY)
    path = resolve_model(tiny_settings, sample)
    assert path == str(
        pretrain.pretrained_folder(tasks.Corpus.from_dataset(sample), tiny_settings.cache_dir, tiny_settings.seed)
    ) and cache.is_complete(path)


def test_same_seed_same_model_other_seed_other_model(tmp_path, corpus):
    a = pretrain.build_pretrained(corpus, tmp_path / "a", seed=1, plan=TINY, progress=False)
    b = pretrain.build_pretrained(corpus, tmp_path / "b", seed=1, plan=TINY, progress=False)
    c = pretrain.build_pretrained(corpus, tmp_path / "c", seed=2, plan=TINY, progress=False)
    assert _weights(a) == _weights(b) and _weights(a) != _weights(c)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()


def test_interrupted_build_resumes_from_its_checkpoint_to_the_same_model(tmp_path, corpus, monkeypatch):
    reference = pretrain.build_pretrained(corpus, tmp_path / "reference", seed=0, plan=TINY, progress=False)
    folder = tmp_path / "interrupted"
    real_batch, seen = tasks.BatchMaker.batch, []

    def interrupt_at_step_3(self, step):
        if step == 3:
            raise KeyboardInterrupt
        return real_batch(self, step)

    monkeypatch.setattr(tasks.BatchMaker, "batch", interrupt_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        pretrain.build_pretrained(corpus, folder, seed=0, plan=TINY, progress=False)
    assert not folder.exists() and not cache.is_complete(folder)  # nothing half-written to load
    assert torch.load(folder.with_name("interrupted.inprogress") / "checkpoint.pt")["step"] == 2

    def record(self, step):
        seen.append(step)
        return real_batch(self, step)

    monkeypatch.setattr(tasks.BatchMaker, "batch", record)
    pretrain.build_pretrained(corpus, folder, seed=0, plan=TINY, progress=False)
    assert seen == [2, 3]  # went on from the checkpoint
    assert cache.is_complete(folder) and _weights(folder) == _weights(reference)


def test_half_written_folder_and_unreadable_checkpoint_start_over(tmp_path, corpus):
    folder = tmp_path / "standin"
    folder.mkdir()
    (folder / "config.json").write_text("{ half written")  # an interrupted publish, no marker
    work = tmp_path / "standin.inprogress"
    work.mkdir()
    (work / "checkpoint.pt").write_bytes(b"not a checkpoint")
    pretrain.build_pretrained(corpus, folder, seed=0, plan=TINY, progress=False)
    assert cache.is_complete(folder)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "t5"


def test_cache_key_covers_data_seed_plan_and_ignores_summaries(corpus, sample):
    key = pretrain.pretrained_key(corpus, 0, TINY)
    other_data = tasks.Corpus(corpus.dialogues[1:], corpus.topics[1:])
    assert key != pretrain.pretrained_key(other_data, 0, TINY)
    assert key != pretrain.pretrained_key(corpus, 1, TINY)
    assert key != pretrain.pretrained_key(corpus, 0, pretrain.PretrainPlan(steps=5, batch_size=4))
    mix = (("span_corruption", 1.0),)
    assert key != pretrain.pretrained_key(corpus, 0, pretrain.PretrainPlan(steps=4, batch_size=4, task_mix=mix))
    # How often it checkpoints does not change the model, so it does not change the key.
    same = pretrain.PretrainPlan(steps=4, batch_size=4, max_input_tokens=64, max_target_tokens=16, checkpoint_every=3)
    assert key == pretrain.pretrained_key(corpus, 0, same)
    # The summaries are not training data: other summaries, same stand-in.
    relabelled = sample["train"].map(lambda row: {"summary": "something else entirely"})
    assert tasks.Corpus.from_dataset({"train": relabelled}) == corpus


def test_training_texts_hold_no_summary(corpus, sample):
    texts = "\n".join(corpus.texts())
    assert not any(summary in texts for summary in sample["train"]["summary"])


def test_span_corruption_hides_spans_behind_sentinels():
    ids = list(range(10, 110))
    sentinels = [-1, -2, -3, -4, -5, -6, -7, -8, -9, -10]
    inputs, target = tasks.span_corruption(ids, sentinels, random.Random(0), noise_density=0.15, mean_span_length=3)
    used = [t for t in inputs if t < 0]
    assert used == sentinels[: len(used)] and [t for t in target if t < 0] == used
    assert sum(t >= 0 for t in target) == 15  # 15% of the tokens are hidden ...
    spans, current = {}, None
    for t in target:  # ... and putting them back gives the original
        if t < 0:
            current = spans[t] = []
        else:
            current.append(t)
    assert [x for t in inputs for x in (spans[t] if t < 0 else [t])] == ids


def test_batches_depend_only_on_the_step(corpus):
    tokenizer = train_tokenizer(corpus.texts())
    maker = tasks.BatchMaker(corpus, tokenizer, TINY, seed=0)
    first = maker.batch(3)
    maker.batch(0)
    again = maker.batch(3)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["input_ids"], maker.batch(4)["input_ids"])
    assert first["input_ids"].shape[1] <= TINY.max_input_tokens and first["labels"].shape[1] <= TINY.max_target_tokens
    assert torch.equal(first["attention_mask"].bool(), first["input_ids"] != 0)
    assert (first["labels"] != 0).all()  # padding is -100, never a learned pad


def test_keywords_are_the_rare_words_in_order_of_appearance():
    others = ["#Person1#: The weather is nice.\n#Person2#: Nice weather for a walk."] * 50
    dialogue = "#Person1#: Jack, the weather is nice. Shall we upgrade the computer?\n#Person2#: The computer, Jack?"
    frequency = tasks.document_frequency(others + [dialogue])
    assert tasks.keywords(dialogue, frequency, 51, k=3) == "Jack, upgrade, computer"  # as written, first-seen order
    assert "weather" not in tasks.keywords(dialogue, frequency, 51, k=4).split(", ")  # in every dialogue: not telling
    assert tasks.keywords("#Person1#: Oh, yes.", frequency, 51) == ""  # nothing but stop words


def _examples_of(corpus, task, **fields):
    tokenizer = train_tokenizer(corpus.texts())
    plan = pretrain.PretrainPlan(task_mix=((task, 1.0),), max_input_tokens=256, max_target_tokens=64, **fields)
    maker = tasks.BatchMaker(corpus, tokenizer, plan, seed=0)
    rng = random.Random(0)
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    return [tuple(map(decode, maker.example(rng))) for _ in range(20)]


def test_copy_answers_with_its_own_input(corpus):
    for prompt, target in _examples_of(corpus, "copy"):
        assert target and target in prompt and ("Repeat it:" in prompt or "Copy the text." in prompt)


def test_copy_words_cuts_the_segment_after_so_many_words(corpus):
    whole = _examples_of(corpus, "copy")
    cut = _examples_of(corpus, "copy", copy_words=5)
    assert all(len(target.split()) <= 5 and target in prompt for prompt, target in cut)
    assert max(len(target.split()) for _, target in whole) > 5  # the cut changed something
    assert all(w.startswith(c) for (_, w), (_, c) in zip(whole, cut))  # the same segments, cut


def test_keywords_answers_with_words_of_its_dialogue(corpus):
    for prompt, target in _examples_of(corpus, "keywords"):
        words = target.split(", ")
        assert 1 <= len(words) <= 6 and all(w in prompt for w in words)


def test_position_prior_makes_first_layer_heads_look_at_neighbours():
    from labs_helpers.standin.architecture import add_position_prior, random_model

    model = random_model(200, seed=0)
    attention = model.encoder.block[0].layer[0].SelfAttention
    before = attention.compute_bias(6, 6)[0].clone()  # (heads, query, key)
    decoder_before = model.decoder.block[0].layer[0].SelfAttention.compute_bias(6, 6).clone()
    add_position_prior(model, 8.0)
    after = attention.compute_bias(6, 6)[0]
    expected = torch.zeros_like(before)
    expected[0] = 8.0 * torch.ones(5).diag(-1)  # head 0: key = query - 1
    expected[1] = 8.0 * torch.ones(5).diag(1)  # head 1: key = query + 1
    assert torch.allclose(after - before, expected, atol=1e-5)
    assert torch.equal(model.decoder.block[0].layer[0].SelfAttention.compute_bias(6, 6), decoder_before)


def test_decoder_prior_makes_heads_look_at_the_last_two_tokens():
    from labs_helpers.standin.architecture import add_position_prior, random_model

    model = random_model(200, seed=0)
    attention = model.decoder.block[0].layer[0].SelfAttention
    before = attention.compute_bias(6, 6)[0].clone()
    encoder_before = model.encoder.block[0].layer[0].SelfAttention.compute_bias(6, 6).clone()
    add_position_prior(model, 0.0, decoder=8.0)
    expected = torch.zeros_like(before)
    expected[0] = 8.0 * torch.ones(5).diag(-1)  # head 0: the token before
    expected[1] = 8.0 * torch.ones(4).diag(-2)  # head 1: the one before that
    assert torch.allclose(attention.compute_bias(6, 6)[0] - before, expected, atol=1e-5)
    assert torch.equal(model.encoder.block[0].layer[0].SelfAttention.compute_bias(6, 6), encoder_before)


def test_small_dataset_builds_in_few_steps():
    plan = DEFAULT_PLAN
    assert plan.steps_for(12_460) == plan.steps
    assert plan.steps_for(24) == 38  # 50 passes over 24 dialogues at 32 per step
    assert plan.copy_steps_for(12_460) == plan.copy_steps and plan.copy_steps_for(24) == 19  # at most half
    assert FIRST_PLAN.copy_steps_for(12_460) == 0  # the first plan does not copy first


def test_tokenizer_learns_the_templates_of_the_plans_tasks_only():
    added = set(tasks.COPY_TEMPLATES + tasks.KEYWORD_TEMPLATES + tasks.RETELL_TEMPLATES)
    assert not added & set(tasks.templates_for(FIRST_PLAN))
    assert added <= set(tasks.templates_for(DEFAULT_PLAN))


def test_default_plan_builds_with_whole_tags_and_the_priors(tmp_path, corpus):
    import dataclasses

    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    plan = dataclasses.replace(DEFAULT_PLAN, steps=4, batch_size=4, copy_steps=2, max_input_tokens=64)
    folder = pretrain.build_pretrained(corpus, tmp_path / "copying", seed=0, plan=plan, progress=False)
    assert "#Person1#" in AutoTokenizer.from_pretrained(folder).tokenize("#Person1#: Hi.")
    bias = AutoModelForSeq2SeqLM.from_pretrained(folder).encoder.block[0].layer[0].SelfAttention.relative_attention_bias
    assert bias.weight[1, 0] > 7 and bias.weight[17, 1] > 7  # the prior, barely moved by 4 steps
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    bias = model.decoder.block[0].layer[0].SelfAttention.relative_attention_bias
    assert bias.weight[1, 0] > 7 and bias.weight[2, 1] > 7
    assert model.generation_config.no_repeat_ngram_size == plan.no_repeat_ngram_size == 3
    assert model.config.d_model == plan.d_model == 192 and model.config.num_heads == 6
    card = (folder / "README.md").read_text()
    assert f"d_model {plan.d_model}," in card
    assert "are `copy` only" in card and "two decoder heads" in card and f"at most {plan.copy_words} words" in card
    assert "`no_repeat_ngram_size=3`" in card
    assert all(f"- `{name}`:" in card for name, _ in plan.task_mix)


def test_the_run_card_names_the_default_plans_loop_guard():
    guard = DEFAULT_PLAN.no_repeat_ngram_size
    assert guard and f"no_repeat_ngram_size={guard} (FLAN-T5's does not)" in RUN_CARD_NOTES["pretrained"]
    assert "no_repeat_ngram_size" not in RUN_CARD_NOTES["instant"]


def test_fields_added_later_keep_the_first_plans_cache_key(corpus):
    fields = FIRST_PLAN.key_fields()
    later = {"keywords", "position_prior", "decoder_prior", "copy_steps", "copy_words", "no_repeat_ngram_size"}
    later |= {"d_model"}  # the width, since the stand-in grew from 128 to 192
    assert not (later | {"one_task_per_batch", "whole_speaker_tags"}) & set(fields)
    assert DEFAULT_PLAN.key_fields()["position_prior"] == DEFAULT_PLAN.key_fields()["decoder_prior"] == 8.0
    assert pretrain.pretrained_key(corpus, 0, FIRST_PLAN) != pretrain.pretrained_key(corpus, 0, DEFAULT_PLAN)
    assert "d_model" not in NARROW_PLAN.key_fields() and DEFAULT_PLAN.key_fields()["d_model"] == 192
    assert pretrain.pretrained_key(corpus, 0, NARROW_PLAN) != pretrain.pretrained_key(corpus, 0, DEFAULT_PLAN)


def test_config_for_widens_the_model_with_heads_of_the_same_size():
    from labs_helpers.standin.architecture import MODEL_CONFIG, config_for

    assert config_for(MODEL_CONFIG["d_model"]) == MODEL_CONFIG
    wide = config_for(192)
    assert (wide["d_model"], wide["d_ff"], wide["num_heads"], wide["d_kv"]) == (192, 384, 6, 32)
    assert wide["num_layers"] == MODEL_CONFIG["num_layers"] and MODEL_CONFIG["d_model"] == 128
    with pytest.raises(ValueError, match="multiple of 32"):
        config_for(100)


def test_first_steps_only_copy(corpus):
    tokenizer = train_tokenizer(corpus.texts())
    plan = pretrain.PretrainPlan(steps=4, copy_steps=2, batch_size=8, max_passes=10**6)
    maker = tasks.BatchMaker(corpus, tokenizer, plan, seed=0)

    def copies(step):
        prompts = tokenizer.batch_decode(maker.batch(step)["input_ids"], skip_special_tokens=True)
        return sum(p.endswith("Repeat it:") or p.startswith("Copy the text.") for p in prompts)

    assert copies(0) == copies(1) == 8 and copies(3) < 8


def test_bad_plans_and_empty_data_are_refused():
    with pytest.raises(ValueError, match="task_mix"):
        pretrain.PretrainPlan(task_mix=(("summaries", 1.0),))
    with pytest.raises(ValueError, match="d_model=100: use a positive multiple of 32"):
        pretrain.PretrainPlan(d_model=100)
    with pytest.raises(LabsError, match="no dialogues"):
        tasks.Corpus.from_dataset({"train": {"dialogue": [], "topic": []}})
