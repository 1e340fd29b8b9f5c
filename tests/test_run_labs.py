import json

import nbformat
import pytest
from conftest import dataset_dir

from labs_helpers import hub, run_labs
from labs_helpers.settings import get_settings


@pytest.fixture
def env(monkeypatch, tmp_path, settings):
    """Offline settings for run_labs, read afresh from the environment."""
    monkeypatch.setenv("LABS_PROFILE", "offline")
    monkeypatch.setenv("LABS_STANDIN", "instant")
    monkeypatch.setenv("LABS_DATASET", str(dataset_dir()))
    monkeypatch.setenv("LABS_CACHE", str(settings.cache_dir))  # reuse the session's stand-in
    for name in ("LABS_PROFILE_ASKED", "LABS_PROFILE_NOTE", "LABS_RUN_DIR"):  # run_labs hands these down:
        monkeypatch.setenv(name, "")  # unset again after the test
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_missing_dataset_folder_fails_before_any_notebook(env, tmp_path, capsys):
    env.setenv("LABS_DATASET", "/no/such/folder")
    assert run_labs.main(["--runs", str(tmp_path / "runs")]) == 2
    assert "LABS_DATASET=/no/such/folder: no such folder" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_missing_column_is_named(env, tmp_path, capsys):
    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.csv").write_text('id,dialogue,topic\nx,"#Person1#: Hi.",greeting\n')
    env.setenv("LABS_DATASET", str(tmp_path))
    assert run_labs.main(["--runs", str(tmp_path / "runs")]) == 2
    assert "missing column 'summary'" in capsys.readouterr().err


def test_course_profile_without_hub_fails_fast(env, tmp_path, capsys):
    env.setenv("LABS_PROFILE", "course")
    env.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    env.setattr(hub, "model_in_cache", lambda model: False)
    assert run_labs.main(["--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "google/flan-t5-base" in err and "LABS_PROFILE=offline" in err


def test_run_writes_notebooks_and_summary(env, tmp_path):
    nb = notebook(
        tmp_path / "01_ok.ipynb",
        "import labs_helpers as labs\nimport pandas as pd\nsettings = labs.get_settings()",
        "labs.save_results('scores', pd.DataFrame({'rouge1': [0.25]}, index=['zero-shot']), settings)",
    )
    assert run_labs.main([str(nb), "--runs", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "01_ok.ipynb").is_file()
    summary = (run_dir / "summary.md").read_text()
    assert "## scores" in summary and "0.250" in summary and "01_ok.ipynb" in summary
    data = json.loads((run_dir / "summary.json").read_text())
    assert data["ok"] and data["results"]["scores"]["data"]["table"][0]["rouge1"] == 0.25
    assert "All 1 notebooks ran: ok." in summary and "| 01_ok.ipynb | ok |" in summary
    assert f"run dir                      {run_dir}" in summary  # the folder really used, not runs/interactive
    assert data["statuses"] == {"01_ok.ipynb": "ok"}


def test_failure_names_notebook_and_cell_and_keeps_earlier_work(env, tmp_path, capsys):
    good = notebook(
        tmp_path / "01_good.ipynb",
        "import labs_helpers as labs\nsettings = labs.get_settings()",
        "labs.save_results('a', {'x': 1}, settings)",
    )
    bad = notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    assert run_labs.main([str(good), str(bad), "--runs", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert "02_bad.ipynb failed at cell 2" in err and "broken on purpose" in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "01_good.ipynb").is_file() and (run_dir / "02_bad.ipynb").is_file()
    assert (run_dir / "results" / "a.json").is_file()
    assert json.loads((run_dir / "summary.json").read_text())["ok"] is False


def test_a_run_that_stops_says_so_and_shows_no_stale_outputs(env, tmp_path):
    bad = notebook(tmp_path / "01_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')", "print('after')")
    saved = nbformat.read(bad, as_version=4)
    saved.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="an output saved in the repo\n")]
    nbformat.write(saved, bad)
    later = notebook(tmp_path / "02_later.ipynb", "y = 2")
    assert run_labs.main([str(bad), str(later), "--runs", str(tmp_path / "runs")]) == 1
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert nbformat.read(run_dir / "01_bad.ipynb", as_version=4).cells[2].outputs == []
    summary = (run_dir / "summary.md").read_text()
    assert summary.splitlines()[2].startswith("**This run did not finish**: 01_bad.ipynb failed at cell 2")
    assert "| 02_later.ipynb | not run |" in summary and "1 notebook(s) not run" in summary


def test_summary_cells_read_as_numbers():
    assert [run_labs._cell(v) for v in (0.178, 50.0, 230.7, 3, "a|b")] == ["0.178", "50", "230.7", "3", "a\\|b"]


def test_summary_opens_with_what_each_notebook_found(env, tmp_path):
    rows = [
        {"model": "full fine-tune", "rouge1": 0.351, "rouge1 low": 0.314, "rouge1 high": 0.391},
        {"model": "constant sentence", "rouge1": 0.29, "rouge1 low": 0.27, "rouge1 high": 0.31},
    ]
    nb = notebook(
        tmp_path / "04_fit.ipynb",
        "import labs_helpers as labs\nimport pandas as pd\nsettings = labs.get_settings()",
        f"labs.save_results('04_full_fine_tuning', pd.DataFrame({rows!r}).set_index('model'), settings)",
        "print(settings.run_card())",
    )
    assert run_labs.main([str(nb), "--runs", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    lines = (run_dir / "summary.md").read_text().splitlines()
    assert lines[4:6] == ["## What this run found", ""] and lines[6].startswith("- 04: full fine-tune: ROUGE-1 0.351")
    printed = nbformat.read(run_dir / "04_fit.ipynb", as_version=4).cells[2].outputs[0]["text"]
    assert printed.strip() in "\n".join(lines)  # the notebook's run card is the summary's, word for word
