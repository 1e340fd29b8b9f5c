"""The retell task's rules: "I" becomes the speaker, "you" the listener, the verb after "I" agrees."""

import random

import pytest

from labs_helpers.standin import tasks
from labs_helpers.standin.plan import DEFAULT_PLAN
from labs_helpers.standin.retell import listeners, retell, third_person
from labs_helpers.standin.tokenizer import SPEAKER_TAGS, train_tokenizer


@pytest.mark.parametrize(
    "verb, expected",
    [("want", "wants"), ("have", "has"), ("go", "goes"), ("watch", "watches"), ("try", "tries"), ("play", "plays")]
    + [("need", "needs"), ("wanted", "wanted"), ("can", "can"), ("thought", "thought"), ("don't", "doesn't")],
)
def test_third_person(verb, expected):
    assert third_person(verb) == expected


def test_retell_names_the_speaker_and_the_listener():
    line = "#Person1#: Can you help me? I'd like a room. I really need it, and we'll pay."
    assert retell(line, "#Person2#") == (
        "#Person1# says: Can #Person2# help #Person1#? #Person1# would like a room. "
        "#Person1# really needs it, and #Person1# and #Person2# will pay."
    )
    assert retell("#Person2#: I think you know my brother.", "#Person1#") == (
        "#Person2# thinks #Person1# knows #Person2#'s brother."
    )
    assert retell("A line without a speaker, I think.", "#Person1#") == "A line without a speaker, I think."


def test_listener_is_the_nearest_other_speaker():
    lines = ["#Person1#: Hi.", "#Person2#: Hello.", "#Person3#: Hey.", "#Person1#: Bye."]
    assert listeners(lines) == ["#Person2#", "#Person3#", "#Person1#", "#Person3#"]
    assert listeners(["#Person2#: Alone."]) == ["#Person1#"]


class _Texts(tasks.BatchMaker):
    """The batch maker's examples as text, before tokenizing."""

    def _encode(self, text):
        return text

    def _target(self, text):
        return text


def test_retell_examples_retell_the_lines_of_their_prompt(sample):
    corpus = tasks.Corpus.from_dataset(sample)
    tokenizer = train_tokenizer(corpus.texts(tasks.templates_for(DEFAULT_PLAN)), whole=SPEAKER_TAGS)
    maker, rng = _Texts(corpus, tokenizer, DEFAULT_PLAN, seed=0), random.Random(0)
    for _ in range(30):
        prompt, target = maker.example(rng, "retell")
        shown = prompt.removesuffix("\n\nRetell it: ").removeprefix("Tell what they said, in the third person.\n\n")
        lines = shown.strip("\n").split("\n")
        assert shown != prompt and len(shown.split()) <= DEFAULT_PLAN.copy_words
        expected = [retell(line, "#Person2#" if line.startswith("#Person1#") else "#Person1#") for line in lines]
        assert target.split("\n") == expected
