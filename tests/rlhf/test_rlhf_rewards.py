"""Reward models: the label picked by name, the lab's first-entry quirk, toxicity as evaluate computes it."""

from __future__ import annotations

import math

import pytest
import torch

from labs_helpers.errors import LabsError
from labs_helpers.rlhf import (
    aggregate_toxicity,
    lab_first_entry_rewards,
    label_index,
    load_classifier_reward,
    mean_std,
    measure_toxicity,
    pipeline_entries,
    rewards_by_label,
    toxicity_from_logits,
)

LABELS = {0: "nothate", 1: "hate"}
# The two examples the course's lab printed (logits of the course's RoBERTa: nothate, hate).
LAB_LOGITS = torch.tensor([[3.1141, -2.4896], [-0.6921, 0.3723]])
WORDS = ["tells", "tommy", "he", "didn't", "like", "the", "movie", "was", "terrible", "dumb", "stupid", "person"]


def save_tiny_classifier(folder, id2label):
    """A random RobertaForSequenceClassification with a word-level tokenizer, saved to ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

    vocab = {w: i for i, w in enumerate(["<s>", "<pad>", "</s>", "<unk>"] + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=1,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    RobertaForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory):
    return save_tiny_classifier(tmp_path_factory.mktemp("roberta") / "model", LABELS)


TEXTS = ["person tells tommy he didn't like the movie", "the movie was terrible dumb and stupid", "tommy"]


def test_classifier_reward_is_the_nothate_logit_and_toxicity_the_hate_probability(classifier_folder):
    reward = load_classifier_reward(classifier_folder)
    logits = reward.logits(TEXTS)
    assert logits.shape == (3, 2)
    assert reward.rewards(TEXTS) == pytest.approx(logits[:, 0].tolist())
    assert reward.toxicity(TEXTS) == pytest.approx(torch.softmax(logits, -1)[:, 1].tolist())
    assert str(classifier_folder) in reward.name


def test_classifier_picks_labels_by_name_whatever_their_order(tmp_path):
    swapped = load_classifier_reward(save_tiny_classifier(tmp_path / "swapped", {0: "hate", 1: "nothate"}))
    logits = swapped.logits(TEXTS)
    assert swapped.rewards(TEXTS) == pytest.approx(logits[:, 1].tolist())
    assert swapped.toxicity(TEXTS) == pytest.approx(torch.softmax(logits, -1)[:, 0].tolist())


def test_a_model_without_the_label_is_refused_with_its_labels(tmp_path):
    folder = save_tiny_classifier(tmp_path / "generic", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(LabsError, match="no label named 'nothate'.*'LABEL_0', 'LABEL_1'"):
        load_classifier_reward(folder)


def test_missing_model_gives_an_offline_hint(tmp_path):
    with pytest.raises(LabsError, match="ProfanityCheckReward"):
        load_classifier_reward(tmp_path / "nowhere")


def test_pipeline_output_matches_transformers_pipeline(classifier_folder):
    from transformers import pipeline

    reward = load_classifier_reward(classifier_folder)
    real = pipeline("text-classification", model=str(classifier_folder), device="cpu")(
        TEXTS, top_k=None, function_to_apply="none", batch_size=16
    )
    ours = reward.pipeline_output(TEXTS)
    assert [[e["label"] for e in row] for row in ours] == [[e["label"] for e in row] for row in real]
    assert [[e["score"] for e in row] for row in ours] == [
        pytest.approx([e["score"] for e in row], abs=1e-5) for row in real
    ]


def test_lab_quirk_rewards_the_hate_logit_when_hate_wins():
    output = pipeline_entries(LAB_LOGITS, LABELS)
    assert output[1][0] == {"label": "hate", "score": pytest.approx(0.3723)}  # sorted: hate first
    assert lab_first_entry_rewards(output) == pytest.approx([3.1141, 0.3723])  # the lab: wrong for text 2
    assert rewards_by_label(output, "nothate") == pytest.approx([3.1141, -0.6921])  # corrected
    with pytest.raises(LabsError, match="no label named 'neutral'"):
        rewards_by_label(output, "neutral")


def test_toxicity_from_the_labs_printed_logits():
    assert toxicity_from_logits(LAB_LOGITS, LABELS, "hate") == pytest.approx([0.00367, 0.7435], abs=1e-4)
    with pytest.raises(LabsError, match="'nothate', 'hate'"):
        toxicity_from_logits(LAB_LOGITS, LABELS, "toxic")


def test_aggregations_and_mean_std_by_hand():
    scores = [0.1, 0.5, 0.7, 0.2]
    assert aggregate_toxicity(scores) == {"toxicity": scores}
    assert aggregate_toxicity(scores, "maximum") == {"max_toxicity": 0.7}
    assert aggregate_toxicity(scores, "ratio") == {"toxicity_ratio": 0.5}  # 0.5 counts (>=)
    mean, std = mean_std(scores)
    assert mean == pytest.approx(0.375) and std == pytest.approx(math.sqrt(0.2275 / 4))
    with pytest.raises(LabsError, match="aggregation='mean'"):
        aggregate_toxicity(scores, "mean")
    with pytest.raises(LabsError, match="at least one"):
        aggregate_toxicity([], "ratio")
    with pytest.raises(LabsError, match="at least one"):
        mean_std([])


def test_measure_toxicity_uses_the_reward_models_toxicity():
    class Fixed:
        name = "fixed"

        def toxicity(self, texts):
            return [0.9 if "bad" in t else 0.1 for t in texts]

    assert measure_toxicity(Fixed(), ["good", "bad", "fine"], "ratio") == {
        "toxicity_ratio": pytest.approx(1 / 3),
        "measured_by": "fixed",
    }
    assert measure_toxicity(Fixed(), ["good"]) == {"toxicity": [0.1], "measured_by": "fixed"}


def test_label_index_by_name():
    assert label_index(LABELS, "hate") == 1 and label_index({3: "x", 7: "y"}, "y") == 7
