"""Issue #16, class 3 (and the runner's part of class 2): ``make labs`` on a busy machine.

A kernel that really dies is reported as such, with its last cell and how to resume; a notebook's own
error is reported as the notebook's; two runs started in the same second get their own folders; the
kernels see the runner's relative paths as the runner meant them.
"""

import json
import os

import nbformat
import pytest
from conftest import dataset_dir
from test_run_labs import notebook

from labs_helpers import run_labs
from labs_helpers.settings import KIT_ROOT, get_settings


@pytest.fixture
def env(monkeypatch, tmp_path, settings):
    monkeypatch.setenv("LABS_PROFILE", "offline")
    monkeypatch.setenv("LABS_STANDIN", "instant")
    monkeypatch.setenv("LABS_DATASET", str(dataset_dir()))
    monkeypatch.setenv("LABS_CACHE", str(settings.cache_dir))
    for name in ("LABS_RUN_DIR", "LABS_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "environ", os.environ.copy())  # run_labs hands settings down through os.environ
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_a_kernel_that_dies_is_reported_with_its_cell_and_how_to_resume(env, tmp_path, capsys):
    dies = notebook(tmp_path / "01_dies.ipynb", "x = 1\nprint(x)", "import os\nos._exit(1)", "print('never')")
    later = notebook(tmp_path / "02_later.ipynb", "print('later')")
    assert run_labs.main([str(dies), str(later), "--runs", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert "01_dies.ipynb failed at the kernel died while running cell 2 ('import os')" in err
    assert f"resume with: python -m labs_helpers.run_labs {dies} {later}" in err
    assert "AssertionError" not in err and "Traceback" not in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    saved = nbformat.read(run_dir / "01_dies.ipynb", as_version=4)
    assert saved.cells[0].outputs[0].text == "1\n"  # what ran before stays written
    assert json.loads((run_dir / "summary.json").read_text())["ok"] is False


def test_the_notebooks_own_assertion_is_reported_as_its_own(env, tmp_path, capsys):
    nb = notebook(tmp_path / "01_check.ipynb", "x = 2", "assert x == 3, 'x should be 3 here'")
    assert run_labs.main([str(nb), "--runs", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert "cell 2 (\"assert x == 3, 'x should be 3 here'\"): AssertionError: x should be 3 here" in err


def test_two_runs_in_the_same_second_get_their_own_folders(tmp_path):
    from labs_helpers.runs import new_run_folder

    first = new_run_folder(tmp_path, "20260101-120000", stamped=True)
    (tmp_path / "20260101-120000-3").mkdir()  # a later one, made by hand: never reused either
    second = new_run_folder(tmp_path, "20260101-120000", stamped=True)
    assert (first.name, second.name) == ("20260101-120000", "20260101-120000-4")


def test_relative_paths_mean_in_the_kernels_what_they_meant_to_the_runner(env, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(KIT_ROOT)
    env.setenv("LABS_DATASET", "data")  # the sample, relative to where make labs runs
    env.setenv("LABS_CACHE", os.path.relpath(os.environ["LABS_CACHE"], KIT_ROOT))
    nb = notebook(
        tmp_path / "01_paths.ipynb",  # the kernel runs in tmp_path, not in the kit's folder
        "import labs_helpers as labs\nsettings = labs.get_settings()",
        "print(settings.dataset)\nprint(settings.cache_dir)",
    )
    cache = (KIT_ROOT / os.environ["LABS_CACHE"]).resolve()
    assert run_labs.main([str(nb), "--runs", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    printed = nbformat.read(run_dir / "01_paths.ipynb", as_version=4).cells[1].outputs[0].text
    assert printed.splitlines() == [str(KIT_ROOT / "data"), str(cache)]
