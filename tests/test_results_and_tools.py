import importlib.util
import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from labs_helpers import LabsError
from labs_helpers.environment import Check, check_environment, check_packages, report
from labs_helpers.results import load_results, save_results
from labs_helpers.settings import KIT_ROOT


def _load_tool(name: str):
    """A script from tools/ as a module, without putting tools/ on sys.path."""
    spec = importlib.util.spec_from_file_location(name, KIT_ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nbtool = _load_tool("nbtool")


def test_save_results_plain_numbers(settings):
    path = save_results("t", {"rouge1": np.float64(0.123456789), "n": np.int64(3), "nan": float("nan")}, settings)
    data = json.loads(path.read_text())["data"]
    assert data == {"rouge1": 0.123457, "n": 3, "nan": None}
    assert load_results(settings.run_dir)["t"]["profile"] == "offline"


def test_save_results_keeps_small_numbers(settings):
    path = save_results("small", {"diff": 4.7683716e-07, "big": 123456.789}, settings)
    assert json.loads(path.read_text())["data"] == {"diff": 4.76837e-07, "big": 123456.789}


def test_save_results_table_also_as_csv(settings):
    save_results("table", pd.DataFrame({"rouge1": [0.5]}, index=["a"]), settings)
    assert (settings.run_dir / "results" / "table.csv").read_text().startswith(",rouge1")


def test_unwritable_run_dir_is_clear(settings, tmp_path):
    import dataclasses

    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = dataclasses.replace(settings, run_dir=blocker / "run")
    with pytest.raises(LabsError, match="LABS_RUN_DIR"):
        save_results("x", {}, bad)


def test_environment_report(settings):
    checks = check_environment(settings)
    names = [c.name for c in checks]
    assert names[:3] == ["python", "torch", "transformers"] and "dataset" in names
    assert all(c.ok for c in check_packages())
    text = report(checks + [Check("thing", False, "missing", "install it")])
    assert "[FIX] thing" in text and "-> install it" in text and "1 thing(s) to fix" in text


def test_nbtool_strips_unchecked_outputs(tmp_path):
    out = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    checked = nbformat.v4.new_code_cell("print(1)", outputs=out, metadata={"tags": ["nbval-check-output"]})
    other = nbformat.v4.new_code_cell("print(1)", outputs=out, execution_count=3)
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[checked, other]), path)
    assert nbtool.problems(path) == [f"{path}: cell 2 keeps outputs that nbval does not check"]
    assert nbtool.main(["strip", str(path)]) == 0
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs and not cells[1].outputs and cells[1].execution_count is None
    assert nbtool.problems(path) == []


def test_nbtool_flags_a_cell_without_an_id_and_strip_gives_it_one(tmp_path):
    path = tmp_path / "n.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("a"), nbformat.v4.new_code_cell("1")])
    raw = json.loads(nbformat.writes(notebook))
    del raw["cells"][1]["id"]  # a cell pasted in by hand
    path.write_text(json.dumps(raw))
    assert nbtool.problems(path) == [
        f"{path}: cell 2 has no id (nbformat 4.5 needs one; `python tools/nbtool.py strip` adds it)"
    ]
    assert nbtool.main(["strip", str(path)]) == 0
    assert nbtool.problems(path) == []
    assert all("id" in cell for cell in json.loads(path.read_text())["cells"])


@pytest.mark.parametrize("path", sorted((KIT_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_are_clean(path):
    assert nbtool.problems(path) == []
    assert nbformat.read(path, as_version=4).metadata["kernelspec"]["name"] == "python3"
