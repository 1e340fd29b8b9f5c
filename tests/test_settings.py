import time

import pytest

from labs_helpers import LabsError, hub
from labs_helpers.course import DATASET as COURSE_DATASET
from labs_helpers.course import MODEL as COURSE_MODEL
from labs_helpers.device import pick_device, pick_dtype
from labs_helpers.settings import SAMPLE_DATA, make_settings


@pytest.fixture
def no_hub(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(hub, "model_in_cache", lambda model: False)


@pytest.fixture
def with_hub(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: True)


def test_offline_profile_uses_standin_and_sample():
    s = make_settings({"LABS_PROFILE": "offline"})
    assert s.offline and s.uses_standin and s.standin == "pretrained"
    assert s.dataset == str(SAMPLE_DATA)
    assert s.model_label == "stand-in (pre-trained)"  # short, for titles; the run card says what it is
    assert "not FLAN-T5" in s.model_description and s.model_description in s.run_card()
    assert s.profile_note == ""


def test_offline_profile_takes_dataset_and_sizes_from_env():
    s = make_settings({"LABS_PROFILE": "offline", "LABS_DATASET": "/data/ds", "LABS_N_EVAL": "3", "LABS_SEED": "7"})
    assert (s.dataset, s.n_eval, s.seed) == ("/data/ds", 3, 7)


def test_sizes_and_learning_rates_follow_the_model():
    course = make_settings({"LABS_PROFILE": "offline", "LABS_MODEL": "x"})  # a local model keeps CI sizes
    pretrained = make_settings({"LABS_PROFILE": "offline"})
    instant = make_settings({"LABS_PROFILE": "offline", "LABS_STANDIN": "instant"})
    assert instant.n_eval < pretrained.n_eval and instant.train_steps < pretrained.train_steps
    assert (
        "1e-05 / 0.001"
        in make_settings({"LABS_PROFILE": "offline", "LABS_FULL_LR": "1e-5", "LABS_LORA_LR": "0.001"}).run_card()
    )
    assert course.standin is None and course.full_lr == instant.full_lr
    with pytest.raises(LabsError, match="LABS_FULL_LR='fast' is not a number"):
        make_settings({"LABS_PROFILE": "offline", "LABS_FULL_LR": "fast"})
    with pytest.raises(LabsError, match="LABS_LORA_LR=0 must be a finite number above 0"):
        make_settings({"LABS_PROFILE": "offline", "LABS_LORA_LR": "0"})


def test_course_profile_uses_the_labs_learning_rates(with_hub):
    s = make_settings({})
    assert (s.full_lr, s.lora_lr) == (1e-5, 1e-3)


def test_auto_without_hub_falls_back_with_banner(no_hub):
    s = make_settings({})
    assert s.profile == "offline" and s.requested_profile == "auto"
    assert "OFFLINE" in s.profile_note and "LABS_PROFILE=course" in s.profile_note
    assert "OFFLINE" in s.run_card()


def test_a_profile_resolved_by_make_labs_keeps_what_was_asked(no_hub):
    asked = make_settings({})
    handed = {"LABS_PROFILE": asked.profile, "LABS_PROFILE_ASKED": "auto", "LABS_PROFILE_NOTE": asked.profile_note}
    s = make_settings(handed)
    assert (s.profile, s.requested_profile, s.profile_note) == ("offline", "auto", asked.profile_note)
    assert s.run_card() == asked.run_card() and "(asked: auto)" in s.run_card()


def test_auto_with_hub_is_course(with_hub):
    s = make_settings({})
    assert (s.profile, s.model, s.dataset, s.standin) == ("course", COURSE_MODEL, COURSE_DATASET, None)
    assert s.n_eval == 50


def test_auto_with_cached_model_and_no_hub_is_course(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(hub, "model_in_cache", lambda model: True)
    assert make_settings({}).profile == "course"


def test_course_without_hub_is_one_clear_error(no_hub):
    with pytest.raises(LabsError) as info:
        make_settings({"LABS_PROFILE": "course"})
    message = str(info.value)
    assert COURSE_MODEL in message and "Hub did not answer" in message and "LABS_PROFILE=offline" in message


def test_bad_values_are_named():
    with pytest.raises(LabsError, match="LABS_PROFILE='bogus'"):
        make_settings({"LABS_PROFILE": "bogus"})
    with pytest.raises(LabsError, match="LABS_N_EVAL='many' is not a whole number"):
        make_settings({"LABS_PROFILE": "offline", "LABS_N_EVAL": "many"})
    with pytest.raises(LabsError, match="LABS_TRAIN_STEPS=0 must be at least 1"):
        make_settings({"LABS_PROFILE": "offline", "LABS_TRAIN_STEPS": "0"})


def test_run_card_lists_every_setting():
    card = make_settings({"LABS_PROFILE": "offline"}).run_card()
    for field in ("profile", "model", "dataset", "device / dtype", "seed", "eval dialogues", "train steps", "batch"):
        assert field in card


def test_fp16_is_refused_for_t5():
    with pytest.raises(LabsError, match="overflow in fp16"):
        pick_dtype("cuda", "float16")


def test_cpu_defaults_to_fp32():
    assert pick_dtype("cpu") == "float32"
    assert pick_dtype("cpu", "bfloat16") == "bfloat16"


def test_device_choice():
    assert pick_device("cpu") == "cpu"
    assert pick_device() in ("cuda", "mps", "cpu")
    with pytest.raises(LabsError, match="not a device"):
        pick_device("tpu")


def test_hub_probe_respects_offline_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False


def test_hub_probe_is_bounded_even_if_the_network_hangs(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def hang(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(hub.urllib.request, "urlopen", hang)
    start = time.perf_counter()
    assert hub.hub_reachable(timeout=0.5) is False
    assert time.perf_counter() - start < 5


def test_a_local_folder_is_not_the_hubs_cache(tmp_path):
    assert hub.is_local_folder(str(tmp_path)) and not hub.model_in_cache(str(tmp_path))
    assert not hub.model_in_cache("no-such-owner/no-such-model-xyz")


def test_library_notices_are_silenced_and_nothing_else():
    import warnings

    from labs_helpers.settings import quiet_library_notices

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_library_notices()
        warnings.warn("`is_gradient_checkpointing` is deprecated.", FutureWarning, stacklevel=2)
        warnings.warn("something the learner should see", FutureWarning, stacklevel=2)
    assert [str(w.message) for w in caught] == ["something the learner should see"]
