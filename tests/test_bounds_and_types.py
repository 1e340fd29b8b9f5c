"""Issue #36: nothing unbounded, nothing silent, every misuse one sentence.

Settings that size work have upper bounds that name themselves; max_new_tokens is cut to what the
model can use, and says so; unknown LABS_* variables are named with the closest known one; wrong
types, ambiguous or broken dataset files and missing models are refused with one LabsError.
"""

import warnings

import pytest
from test_bad_data import GOOD

from labs_helpers import LabsError, load_dialogsum
from labs_helpers.setting_values import MOST
from labs_helpers.settings import make_settings
from labs_helpers.train import main

OFFLINE = {"LABS_PROFILE": "offline", "LABS_STANDIN": "instant", "LABS_DEVICE": "cpu"}


@pytest.mark.parametrize("name", sorted(MOST))
def test_every_setting_that_sizes_work_has_an_upper_bound_that_names_itself(name):
    value = str(MOST[name] + (4 if name == "LABS_PPO_BATCH_SIZE" else 1))
    with pytest.raises(LabsError) as error:
        make_settings(dict(OFFLINE, **{name: value}))
    assert str(error.value).startswith(f"{name}={value} must be at least 1 and at most {MOST[name]}.")
    assert getattr(make_settings(dict(OFFLINE, **{name: str(MOST[name])})), name[5:].lower()) == MOST[name]


def test_max_new_tokens_of_100000_is_refused_and_the_ppo_batch_must_divide_into_mini_batches():
    with pytest.raises(LabsError, match=r"^LABS_MAX_NEW_TOKENS=100000 must be at least 1 and at most 512\."):
        make_settings(dict(OFFLINE, LABS_MAX_NEW_TOKENS="100000"))
    with pytest.raises(LabsError, match=r"^LABS_PPO_BATCH_SIZE=6 must be a multiple of 4 \(PPO's mini-batch\)"):
        make_settings(dict(OFFLINE, LABS_PPO_BATCH_SIZE="6"))


@pytest.mark.parametrize(
    "option, value, bound",
    [("--steps", "100001", 100000), ("--batch-size", "1025", 1024), ("--examples", "1000001", 1000000)],
)
def test_command_line_options_that_size_work_have_bounds(cli_env, capsys, option, value, bound):
    assert main(["full", option, value]) == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be a whole number of 1 or more and at most {bound}, not '{value}'" in err
    assert not (cli_env / "runs").exists()


def test_a_huge_max_new_tokens_in_python_is_cut_to_what_the_model_can_use(model_and_tokenizer, monkeypatch):
    from labs_helpers.generation import LongOutputWarning, generate_batched, output_limit

    model, tokenizer = model_and_tokenizer
    assert output_limit(model, tokenizer) == 512
    asked = []

    def generate(**kwargs):  # what generate is asked for; 512 real steps would take half a minute on 2 cores
        asked.append(kwargs["max_new_tokens"])
        return kwargs["input_ids"]

    monkeypatch.setattr(model, "generate", generate)
    with pytest.warns(LongOutputWarning, match=r"max_new_tokens=100000 is cut to 512, the longest output this model"):
        generate_batched(model, tokenizer, ["Summarize: hello"], max_new_tokens=100000, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the usual budgets are not cut, and say nothing
        generate_batched(model, tokenizer, ["Summarize: hello"], max_new_tokens=50, progress=False)
    assert asked == [512, 50]


def test_a_misspelt_variable_is_named_with_the_closest_setting(cli_env, capsys, monkeypatch):
    card = make_settings(dict(OFFLINE, LABS_TRAIN_STEP="1", LABS_UI_TIMEOUT="60")).run_card()
    assert "LABS_TRAIN_STEP is not a setting of the kit, so it is ignored: did you mean LABS_TRAIN_STEPS?" in card
    assert "LABS_UI_TIMEOUT" not in card  # the browser test's own variable is known
    assert "not a setting" not in make_settings(OFFLINE).run_card()
    monkeypatch.setenv("LABS_TRAIN_STEP", "1")
    assert main(["full", "--steps", "0"]) == 2  # argparse refuses first: nothing is read
    monkeypatch.setenv("LABS_SEEED", "1")
    assert main(["ppo", "--resume"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-3:-1] == [
        "labs_helpers.train: LABS_SEEED is not a setting of the kit, so it is ignored: did you mean LABS_SEED?",
        "labs_helpers.train: LABS_TRAIN_STEP is not a setting of the kit, so it is ignored: "
        "did you mean LABS_TRAIN_STEPS?",
    ]


def _calls():
    from labs_helpers.evaluation import summarize_dialogues
    from labs_helpers.generation import generate_batched
    from labs_helpers.metrics import distinct_n
    from labs_helpers.prompting import format_prompt

    return {
        "generate-str": (lambda m, t: generate_batched(m, t, "one prompt"), "prompts is one text"),
        "summarize-str": (lambda m, t: summarize_dialogues(m, t, "#Person1#: Hi."), "dialogues is one text"),
        "summarize-int": (lambda m, t: summarize_dialogues(m, t, [3]), "but one is a int"),
        "none-model": (lambda m, t: summarize_dialogues(None, t, ["a"]), "The model is None: load it first"),
        "none-tokenizer": (lambda m, t: generate_batched(m, None, ["a"]), "The tokenizer is None: load it first"),
        "prompt-list": (lambda m, t: format_prompt("finetune", ["a", "b"]), "one dialogue .a text., not a list"),
        "distinct-str": (lambda m, t: distinct_n("one summary here"), "not one text"),
        "distinct-none": (lambda m, t: distinct_n([None]), "but one is a NoneType"),
    }


@pytest.mark.parametrize("case", list(_calls()))
def test_wrong_types_are_refused_in_one_sentence(model_and_tokenizer, case):
    call, message = _calls()[case]
    with pytest.raises(LabsError, match=message):
        call(*model_and_tokenizer)


def test_the_right_types_still_work(model_and_tokenizer):
    from labs_helpers.metrics import distinct_n
    from labs_helpers.prompting import format_prompt

    assert distinct_n(iter(["a b c", "a b d"]), n=1) == 4 / 6  # any iterable of texts, generators too
    assert "Hi." in format_prompt("finetune", "Hi.")


def _splits(folder):
    folder.mkdir()
    for split in ("train", "validation", "test"):
        (folder / f"{split}.csv").write_text(GOOD)
    return folder


def test_a_split_with_two_files_is_refused_not_guessed(tmp_path):
    folder = _splits(tmp_path / "two")
    (folder / "train.jsonl").write_text('{"id": "x", "dialogue": "d", "summary": "s", "topic": "t"}\n')
    with pytest.raises(LabsError) as error:
        load_dialogsum(folder)
    assert str(error.value) == (
        f"{folder} has train.csv and train.jsonl for the 'train' split, and the kit will not guess which to read. "
        "Keep one of them there (move the others away)."
    )


@pytest.mark.parametrize("kind", ["folder", "loop", "dangling"])
def test_a_split_file_that_is_a_folder_or_a_broken_link_is_named(tmp_path, kind):
    folder = _splits(tmp_path / kind)
    train = folder / "train.csv"
    train.unlink()
    if kind == "folder":
        train.mkdir()
    else:
        train.symlink_to(train if kind == "loop" else folder / "gone.csv")
    with pytest.raises(LabsError) as error:
        load_dialogsum(folder)
    expected = "is a folder, not a file" if kind == "folder" else "is a link that leads to no file"
    assert str(error.value).startswith(f"{train} {expected}")


def test_a_dataframe_where_a_split_or_a_folder_belongs_is_named(dataset):
    from labs_helpers.evaluation import eval_dialogues

    frame = dataset["test"].to_pandas()
    with pytest.raises(LabsError, match=r"^load_dialogsum takes a Hub id or a folder, not a DataFrame"):
        load_dialogsum(frame)
    with pytest.raises(LabsError, match=r"^eval_dialogues takes a datasets split .*, not a DataFrame"):
        eval_dialogues(frame, 3)
