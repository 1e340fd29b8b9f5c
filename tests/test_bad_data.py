"""Issue #16, class 2: a data file that cannot be used gets one sentence naming the file, the row where it can,
and the fix; never a traceback, and never a training run on the text "None"."""

import json
import shutil
from pathlib import Path

import pytest

from labs_helpers import LabsError, load_dialogsum, run_labs
from labs_helpers.settings import SAMPLE_DATA, get_settings

GOOD = 'id,dialogue,summary,topic\nx1,"#Person1#: Hi.\n#Person2#: Hello.",They greet.,greeting\n'
ROW = {"id": "x1", "dialogue": "#Person1#: Hi.", "summary": "They greet.", "topic": "greeting"}

# name: (file name, contents, the sentence's start: {file} is the file's path)
CASES = {
    "empty file": ("train.csv", b"", "{file} is empty. Each split's file needs a header"),
    "header only": ("train.csv", b"id,dialogue,summary,topic\n", "{file} has no rows (a header only?)."),
    "not UTF-8": (
        "train.csv",
        b"id,dialogue,summary,topic\nx1,#Person1#: Caf\xe9,They meet.,cafe\n",
        "{file}, line 2: these bytes are not UTF-8 text. Save the file as UTF-8.",
    ),
    "malformed JSON line": (
        "train.jsonl",
        (json.dumps(ROW) + '\n{"id": "x2", "dialogue": \n').encode(),
        "{file}, line 2: not a JSON object",
    ),
    "empty summary cell": (
        "train.csv",
        b'id,dialogue,summary,topic\nx1,"#Person1#: Hi.",They greet.,greeting\nx2,"#Person1#: Bye.",,farewell\n',
        "{file}, row 2: the 'summary' cell is empty. Fill it in or delete that row.",
    ),
    "blank dialogue cell": (
        "validation.csv",
        b'id,dialogue,summary,topic\nx1,"   ",They greet.,greeting\n',
        "{file}, row 1: the 'dialogue' cell is empty.",
    ),
    "missing summary key": (
        "test.jsonl",
        (json.dumps(ROW) + "\n" + json.dumps({k: v for k, v in ROW.items() if k != "summary"}) + "\n").encode(),
        "{file}, row 2: the 'summary' cell is empty.",
    ),
}


def dataset_with(folder: Path, name: str, contents: bytes) -> Path:
    """A dataset folder whose splits are good, except ``name``."""
    folder.mkdir()
    for split in ("train", "validation", "test"):
        (folder / f"{split}.csv").write_text(GOOD)
    split = name.split(".")[0]
    (folder / f"{split}.csv").unlink()
    (folder / name).write_bytes(contents)
    return folder


@pytest.mark.parametrize("case", CASES)
def test_load_dialogsum_names_the_file_the_row_and_the_fix(tmp_path, case):
    name, contents, message = CASES[case]
    folder = dataset_with(tmp_path / "ds", name, contents)
    with pytest.raises(LabsError) as error:
        load_dialogsum(folder)
    assert message.format(file=folder / name) in str(error.value)


@pytest.mark.parametrize("case", ["empty file", "not UTF-8", "empty summary cell"])
def test_make_labs_stops_before_any_notebook(tmp_path, monkeypatch, capsys, case):
    name, contents, message = CASES[case]
    folder = dataset_with(tmp_path / "ds", name, contents)
    monkeypatch.setenv("LABS_PROFILE", "offline")
    monkeypatch.setenv("LABS_STANDIN", "instant")
    monkeypatch.setenv("LABS_DATASET", str(folder))
    get_settings.cache_clear()
    try:
        assert run_labs.main(["--runs", str(tmp_path / "runs")]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert message.format(file=folder / name) in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_the_authors_release_gets_the_same_checks(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    row = {"fname": "train_1", "dialogue": "#Person1#: Hi.", "summary": "They greet.", "topic": "greeting"}
    for split in ("train", "dev"):
        (folder / f"dialogsum.{split}.jsonl").write_text(repr(row) + "\n")
    (folder / "dialogsum.test.jsonl").write_text(repr(dict(row, summary1=None, topic1="x")) + "\n")
    with pytest.raises(LabsError, match=r"dialogsum.test.jsonl, row 1: the 'summary' cell is empty"):
        load_dialogsum(folder)
    (folder / "dialogsum.dev.jsonl").write_bytes(b"\xff\xfe")
    with pytest.raises(LabsError, match=r"dialogsum.dev.jsonl, line 1: these bytes are not UTF-8 text"):
        load_dialogsum(folder)


def test_the_sample_still_loads(tmp_path):
    copy = shutil.copytree(SAMPLE_DATA, tmp_path / "data")
    assert len(load_dialogsum(copy)["train"]) > 0
