"""Load DialogSum from the Hub, a folder in the Hub's layout, or the authors' original release."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LabsError

if TYPE_CHECKING:
    from datasets import DatasetDict

SPLITS = ("train", "validation", "test")
COLUMNS = ("id", "dialogue", "summary", "topic")
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
ORIGINAL_FILES = {"train": "dialogsum.train.jsonl", "validation": "dialogsum.dev.jsonl", "test": "dialogsum.test.jsonl"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

_FILE_FIX = "Each split's file needs a header (id, dialogue, summary, topic) and at least one row, in UTF-8."
_FIX = (
    "Point LABS_DATASET at a folder with train/validation/test files (csv, json, jsonl or parquet), "
    "or unset it to use the sample in data/."
)


def load_dialogsum(source: str | Path) -> DatasetDict:
    """DialogSum as a ``DatasetDict`` (train/validation/test; id, dialogue, summary, topic)."""
    if not isinstance(source, (str, Path)):
        raise LabsError(
            f"load_dialogsum takes a Hub id or a folder, not a {type(source).__name__}: save the table's splits "
            "as train.csv, validation.csv and test.csv in a folder (frame.to_csv(..., index=False)) and pass it."
        )
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        if all((path / name).is_file() for name in ORIGINAL_FILES.values()):
            return _load_original(path)
        return _load_hub_layout(path)
    if path.exists():
        raise LabsError(f"LABS_DATASET={text}: this is a file, not a folder. {_FIX}")
    if _HUB_ID.match(text) and not text.startswith((".", "~")):
        return _load_from_hub(text)
    raise LabsError(f"LABS_DATASET={text}: no such folder. {_FIX}")


def _load_from_hub(dataset_id: str):
    from datasets import load_dataset

    try:
        dataset = load_dataset(dataset_id)
    except Exception as error:
        raise LabsError(
            f"Could not load the dataset {dataset_id!r} from the Hugging Face Hub ({type(error).__name__}). "
            "Check the id and your connection, or set LABS_DATASET to a local folder "
            "(for example a copy of DialogSum, or data/ for the kit's sample)."
        ) from error
    return _checked(dataset, dataset_id)


def _split_file(folder: Path, split: str) -> Path:
    """The one file of ``split`` in ``folder``; a folder, a broken link or two candidates are refused by name."""
    found = sorted(p for p in folder.iterdir() if p.stem == split and p.suffix in FORMATS)
    if not found:
        expected = ", ".join(f"{split}{suffix}" for suffix in FORMATS)
        raise LabsError(f"{folder}: no file for the '{split}' split (expected one of {expected}). {_FIX}")
    for file in found:
        if file.is_dir():
            raise LabsError(f"{file} is a folder, not a file. Put the '{split}' split's rows in a file of that name.")
        if not file.is_file():
            raise LabsError(
                f"{file} is a link that leads to no file (a loop, or its target is gone). "
                "Point it at the split's file, or replace it with the file itself."
            )
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise LabsError(
            f"{folder} has {names} for the '{split}' split, and the kit will not guess which to read. "
            "Keep one of them there (move the others away)."
        )
    return found[0]


def _load_hub_layout(folder: Path):
    from datasets import DatasetDict, load_dataset

    parts = {}
    for split in SPLITS:
        file = _split_file(folder, split)
        _check_text(file)
        try:
            loaded = load_dataset(FORMATS[file.suffix], data_files={split: str(file)}, split=split)
        except Exception as error:  # pandas' or pyarrow's parser errors, whatever their type
            reason = (str(error).strip().splitlines() or [type(error).__name__])[-1][:120]
            raise LabsError(f"{file} could not be read as {FORMATS[file.suffix]} ({reason}). {_FILE_FIX}") from None
        _require_columns(loaded.column_names, file)
        _require_cells(loaded, file)
        parts[split] = loaded
    return _checked(DatasetDict(parts), str(folder))


def _check_text(file: Path, json_lines: bool = True) -> None:
    """An empty file, bytes that are not UTF-8, or a JSON line that is not JSON: one sentence with the line."""
    if file.stat().st_size == 0:
        raise LabsError(f"{file} is empty. {_FILE_FIX}")
    if file.suffix == ".parquet":
        return
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise LabsError(f"{file}, line {line}: these bytes are not UTF-8 text. Save the file as UTF-8.") from None
    if sum(1 for line in text.splitlines() if line.strip()) <= (file.suffix == ".csv"):
        raise LabsError(f"{file} has no rows (a header only?). {_FILE_FIX}")
    if json_lines and (file.suffix == ".jsonl" or (file.suffix == ".json" and not text.lstrip().startswith("["))):
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                if line.strip() and not isinstance(json.loads(line), dict):
                    raise ValueError("not an object")
            except ValueError as error:
                raise LabsError(
                    f"{file}, line {number}: not a JSON object ({error}). Fix or delete that line."
                ) from None


def _require_cells(split, where: Any) -> None:
    """Every row has a dialogue and a summary, as text: never a training run on the text 'None'."""
    if len(split) == 0:
        raise LabsError(f"{where} has no rows (a header only?). {_FILE_FIX}")
    for column in ("dialogue", "summary"):
        for row, value in enumerate(split[column], start=1):
            if not isinstance(value, str) or not value.strip():
                what = "empty" if value is None or not str(value).strip() else f"not text ({value!r})"
                raise LabsError(f"{where}, row {row}: the '{column}' cell is {what}. Fill it in or delete that row.")


def _require_columns(columns: list[str], where: Any) -> None:
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise LabsError(
            f"{where}: missing column {', '.join(repr(m) for m in missing)} (has {', '.join(columns)}). "
            f"DialogSum files need the columns {', '.join(COLUMNS)}."
        )


def _checked(dataset, where: str):
    from datasets import DatasetDict

    missing = [s for s in SPLITS if s not in dataset]
    if missing:
        raise LabsError(f"{where}: missing split {', '.join(repr(m) for m in missing)}. {_FIX}")
    for split in SPLITS:
        _require_columns(dataset[split].column_names, f"{where} ({split})")
        _require_cells(dataset[split], f"{where} ({split})")
    return DatasetDict({s: dataset[s].select_columns(list(COLUMNS)) for s in SPLITS})


def _read_literal_lines(file: Path) -> list[dict]:
    _check_text(file, json_lines=False)  # Python dict literals, one a line
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(ast.literal_eval(line))
        except (ValueError, SyntaxError) as error:
            raise LabsError(f"{file}, line {number}: not a Python dict literal ({error}).") from None
    return rows


def _load_original(folder: Path):
    """The authors' release: one Python-dict literal per line; test rows carry summary1..3."""
    from datasets import Dataset, DatasetDict

    parts = {}
    for split, name in ORIGINAL_FILES.items():
        file = folder / name
        records = _read_literal_lines(file)
        rows: dict[str, list[str]] = {c: [] for c in COLUMNS}
        for record in records:
            if split == "test":
                keys = sorted(k for k in record if re.fullmatch(r"summary\d+", k))
                if not keys:
                    raise LabsError(f"{file}: test rows need columns summary1..summary3 (found {', '.join(record)}).")
                for key in keys:
                    n = key[len("summary") :]
                    rows["id"].append(f"{record['fname']}_{n}")
                    rows["dialogue"].append(record.get("dialogue"))
                    rows["summary"].append(record[key])
                    rows["topic"].append(record.get(f"topic{n}", ""))
            else:
                missing = [k for k in ("fname", "dialogue", "summary", "topic") if k not in record]
                if missing:
                    raise LabsError(
                        f"{file}: missing column {', '.join(repr(m) for m in missing)} (has {', '.join(record)})."
                    )
                rows["id"].append(record["fname"])
                for column in COLUMNS[1:]:
                    rows[column].append(record[column])
        parts[split] = Dataset.from_dict(rows)
        _require_cells(parts[split], file)
    return DatasetDict(parts)


def group_references(split) -> Any:
    """One row per unique dialogue (first-seen order) with its list of human summaries."""
    from datasets import Dataset

    order: list[str] = []
    groups: dict[str, dict[str, Any]] = {}
    for row in split:
        dialogue = row["dialogue"]
        if dialogue not in groups:
            order.append(dialogue)
            groups[dialogue] = {
                "id": re.sub(r"^(.*_\d+)_\d+$", r"\1", row["id"]),
                "dialogue": dialogue,
                "references": [],
                "topic": row["topic"],
            }
        groups[dialogue]["references"].append(row["summary"])
    return Dataset.from_list([groups[d] for d in order])
