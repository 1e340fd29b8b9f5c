import json

import pandas as pd
import pytest
from conftest import SHARED

from labs_helpers import LabsError, group_references, load_dialogsum

ROWS = [
    {"id": "train_0", "dialogue": "#Person1#: Hi.\n#Person2#: Hello.", "summary": "They greet.", "topic": "greeting"},
    {"id": "train_1", "dialogue": "#Person1#: Bye.\n#Person2#: See you.", "summary": "They part.", "topic": "farewell"},
]


def write_split(folder, split, fmt, rows=ROWS):
    frame = pd.DataFrame(rows)
    path = folder / f"{split}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "json":
        path.write_text(json.dumps(rows))
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_hub_layout_in_every_format(tmp_path, fmt):
    for split in ("train", "validation", "test"):
        write_split(tmp_path, split, fmt)
    data = load_dialogsum(tmp_path)
    assert set(data) == {"train", "validation", "test"}
    assert data["train"].column_names == ["id", "dialogue", "summary", "topic"]
    assert data["test"][1]["summary"] == "They part."


def test_extra_columns_are_dropped(tmp_path):
    rows = [dict(r, extra="x") for r in ROWS]
    for split in ("train", "validation", "test"):
        write_split(tmp_path, split, "csv", rows)
    assert load_dialogsum(tmp_path)["train"].column_names == ["id", "dialogue", "summary", "topic"]


def test_original_release_with_python_literals(tmp_path):
    # The authors' files hold Python-dict literals (single quotes), not strict JSON.
    train = {
        "fname": "train_0",
        "dialogue": "#Person1#: It's late.\n#Person2#: Yes.",
        "summary": "It is late.",
        "topic": "time",
    }
    test = {
        "fname": "test_0",
        "dialogue": "#Person1#: Rain?\n#Person2#: Yes.",
        "summary1": "It rains.",
        "summary2": "Rain is coming.",
        "summary3": "Wet day.",
        "topic1": "weather",
        "topic2": "rain",
        "topic3": "weather",
    }
    (tmp_path / "dialogsum.train.jsonl").write_text(repr(train) + "\n")
    (tmp_path / "dialogsum.dev.jsonl").write_text(repr(dict(train, fname="dev_0")) + "\n")
    (tmp_path / "dialogsum.test.jsonl").write_text(repr(test) + "\n")
    data = load_dialogsum(tmp_path)
    assert data["train"][0]["dialogue"] == train["dialogue"]
    assert data["validation"][0]["id"] == "dev_0"
    assert data["test"]["id"] == ["test_0_1", "test_0_2", "test_0_3"]
    assert data["test"]["summary"] == ["It rains.", "Rain is coming.", "Wet day."]
    assert data["test"]["topic"] == ["weather", "rain", "weather"]
    grouped = group_references(data["test"])
    assert len(grouped) == 1 and grouped[0]["references"] == ["It rains.", "Rain is coming.", "Wet day."]


def test_original_release_bad_line_names_file_and_line(tmp_path):
    for name in ("train", "dev", "test"):
        (tmp_path / f"dialogsum.{name}.jsonl").write_text("{'fname': 'x'\n")
    with pytest.raises(LabsError, match=r"dialogsum.train.jsonl, line 1"):
        load_dialogsum(tmp_path)


def test_missing_folder_names_it():
    with pytest.raises(LabsError, match=r"/no/such/folder: no such folder.*unset it"):
        load_dialogsum("/no/such/folder")


def test_missing_split_file_names_split(tmp_path):
    write_split(tmp_path, "train", "csv")
    write_split(tmp_path, "test", "csv")
    with pytest.raises(LabsError, match=r"no file for the 'validation' split"):
        load_dialogsum(tmp_path)


def test_missing_column_names_column_and_file(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "summary"} for r in ROWS]
    for split in ("train", "validation", "test"):
        write_split(tmp_path, split, "csv", rows)
    with pytest.raises(LabsError, match=r"train\.csv: missing column 'summary'"):
        load_dialogsum(tmp_path)


def test_file_instead_of_folder(tmp_path):
    (tmp_path / "x.csv").write_text("id\n")
    with pytest.raises(LabsError, match="a file, not a folder"):
        load_dialogsum(tmp_path / "x.csv")


def test_sample_has_hub_shape(sample):
    assert [len(sample[s]) for s in ("train", "validation", "test")] == [24, 6, 30]
    grouped = group_references(sample["test"])
    assert len(grouped) == 10
    assert all(len(refs) == 3 for refs in grouped["references"])
    assert grouped["id"][:2] == ["test_0", "test_1"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/dialogsum is not here (fresh clone)")
def test_full_dialogsum_sizes():
    data = load_dialogsum(SHARED)
    assert [len(data[s]) for s in ("train", "validation", "test")] == [12460, 500, 1500]
    assert len(group_references(data["test"])) == 500


def test_grouping_keeps_order_and_all_references(dataset):
    test = dataset["test"]
    grouped = group_references(test)
    assert sum(len(r) for r in grouped["references"]) == len(test)
    assert grouped[0]["dialogue"] == test[0]["dialogue"]
    assert grouped[0]["references"] == [test[i]["summary"] for i in range(3)]
