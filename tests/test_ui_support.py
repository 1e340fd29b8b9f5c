"""The parts of make ui-test that need no browser: set-up failures, which cells are figures, image comparison.

The browser checks themselves are proven by the self-check that make ui-test runs first
(tools/ui_test.py: broken synthetic notebooks must be reported by notebook and cell).
"""

import io
import json
import sys

import pytest

from labs_helpers.settings import KIT_ROOT

sys.path.insert(0, str(KIT_ROOT / "tools"))
import ui_checks  # noqa: E402
import ui_chromium  # noqa: E402
import ui_explorer  # noqa: E402
import ui_findings  # noqa: E402
import ui_server  # noqa: E402


def test_missing_browser_that_cannot_be_installed_fails_with_one_sentence(monkeypatch):
    monkeypatch.setattr(ui_chromium, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.delenv("LABS_UI_CHROMIUM", raising=False)
    monkeypatch.setenv("LABS_UI_APT_GET", "false")  # an apt-get that always fails
    monkeypatch.setattr(ui_chromium.shutil, "which", lambda name: "/bin/false" if name in ("false", "sudo") else None)
    said = []
    with pytest.raises(ui_chromium.SetupError) as raised:
        ui_chromium.ensure_chromium(said.append)
    message = str(raised.value)
    assert message.endswith(".") and ". " not in message.rstrip("."), message  # one sentence
    assert "chromium" in message.lower() and "LABS_UI_CHROMIUM" in message


def test_a_chromium_named_in_the_environment_must_exist(monkeypatch):
    monkeypatch.setenv("LABS_UI_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(ui_chromium.SetupError, match="LABS_UI_CHROMIUM"):
        ui_chromium.ensure_chromium(print)


def test_figure_cells_are_the_plt_show_cells_and_the_explorer():
    notebook = json.loads((KIT_ROOT / "notebooks" / "03_generation_config.ipynb").read_text())
    figures, explorers = ui_findings.figure_cells(notebook), ui_findings.explorer_cells(notebook)
    assert len(explorers) == 1 and explorers[0] in figures
    for index in figures:
        source = "".join(notebook["cells"][index]["source"])
        assert "plt.show()" in source or "explorer(" in source
    assert len(figures) >= 5


def test_kernels_draw_inline_figures_whatever_the_test_settings():
    env = ui_server.kernel_env({"MPLBACKEND": "agg", "PYTHONPATH": "elsewhere"})
    assert "MPLBACKEND" not in env  # ipykernel then picks the inline backend
    assert env["PYTHONPATH"].split(":")[0] == str(KIT_ROOT)


def test_image_difference():
    from PIL import Image

    def png(colour, size=(40, 20)):
        buffer = io.BytesIO()
        Image.new("RGB", size, colour).save(buffer, format="PNG")
        return buffer.getvalue()

    assert ui_explorer.image_difference(png("white"), png("white")) == 0.0
    assert ui_explorer.image_difference(png("white"), png("black")) == 1.0
    assert ui_explorer.image_difference(png("white"), png("white", (41, 20))) == 1.0


def test_missing_driver_is_installed_from_the_ui_extra_into_this_interpreter(monkeypatch, capsys):
    import ui_test

    calls = []
    monkeypatch.setattr(ui_test.importlib.util, "find_spec", lambda name: None if name == "playwright" else object())
    monkeypatch.setattr(
        ui_test.subprocess, "run", lambda args, **kw: calls.append(args) or type("Done", (), {"returncode": 0})()
    )
    ui_test.ensure_python_packages()
    assert calls and calls[0][:4] == [sys.executable, "-m", "pip", "install"]
    assert any(arg.startswith("playwright") for arg in calls[0])
    assert "first run only" in capsys.readouterr().out
    monkeypatch.setattr(ui_test.subprocess, "run", lambda args, **kw: type("Done", (), {"returncode": 1})())
    with pytest.raises(ui_chromium.SetupError, match="could not install"):
        ui_test.ensure_python_packages()


class _Clock:
    """A monotonic clock that a fake page moves on, so minutes of waiting take no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Page:
    """Just enough of a Playwright page for opening a notebook: a kernel whose status follows ``status_at``."""

    def __init__(self, clock: _Clock, status_at) -> None:
        self.clock, self.status_at, self.shots = clock, status_at, []

    def evaluate(self, script, *args):
        if script == ui_checks._STATE_JS:
            status = self.status_at(self.clock.now)
            return {
                "status": status,
                "dialog": False,
                "display": ui_server.KERNEL_DISPLAY,
                "running": 0,
                "done": 0,
                "code": 3,
            }
        return None

    def wait_for_timeout(self, ms: float) -> None:
        self.clock.now += ms / 1000

    def screenshot(self, path) -> None:
        self.shots.append(path)

    def goto(self, *args, **kwargs) -> None: ...
    def wait_for_function(self, *args, **kwargs) -> None: ...
    def set_default_timeout(self, ms) -> None: ...
    def on(self, *args) -> None: ...
    def close(self) -> None: ...


def _browser(tmp_path, page):
    """A LabBrowser without a browser: its page is ``page``, its server's root ``tmp_path``."""
    browser = ui_checks.LabBrowser.__new__(ui_checks.LabBrowser)
    browser.server = type("Server", (), {"root_dir": tmp_path, "url": "http://x", "token": "t"})()
    browser.context = type("Context", (), {"new_page": lambda self: page})()
    browser.shots_dir, browser.say = tmp_path / "shots", print
    return browser


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(ui_checks.time, "monotonic", clock)
    return clock


def test_waits_grow_with_the_load_per_core_within_a_bound():
    assert (
        ui_checks.patience(0.5, 2) == 1.0
        and ui_checks.patience(4.0, 2) == 2.0
        and ui_checks.patience(100.0, 2) == ui_checks.MAX_PATIENCE
    )


def test_a_kernel_that_starts_slowly_on_a_busy_machine_is_a_note_not_a_failure(tmp_path, clock, monkeypatch):
    monkeypatch.setattr(ui_checks, "machine_load", lambda: (4.0, 2))  # load 4 on 2 cores
    page = _Page(clock, lambda now: "starting" if now < 400 else "idle")  # longer than a quiet machine's 300 s
    result = ui_findings.NotebookResult("01.ipynb")
    assert _browser(tmp_path, page)._open(page, "notebooks/01.ipynb", result) is True
    assert result.problems == []
    assert result.notes == ["01.ipynb: the kernel was slow to start (400 s, load average 4.0 on 2 cores)"]


def test_the_wait_follows_the_load_as_it_changes(tmp_path, clock, monkeypatch):
    monkeypatch.setattr(ui_checks, "machine_load", lambda: (0.5 if clock.now < 200 else 8.0, 2))  # it gets busy
    page = _Page(clock, lambda now: "starting" if now < 900 else "idle")
    result = ui_findings.NotebookResult("02.ipynb")
    assert _browser(tmp_path, page)._open(page, "notebooks/02.ipynb", result) is True and not result.problems


def test_one_kernel_that_never_starts_is_one_finding_not_one_per_cell(tmp_path, clock, monkeypatch):
    import json

    monkeypatch.setattr(ui_checks, "machine_load", lambda: (0.2, 2))
    (tmp_path / "notebooks").mkdir()
    cells = [{"cell_type": "code", "source": f"x = {i}", "metadata": {}, "outputs": []} for i in range(28)]
    (tmp_path / "notebooks" / "01.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}}))
    page = _Page(clock, lambda now: "starting")
    result = _browser(tmp_path, page).check_notebook("notebooks/01.ipynb", "01.ipynb")
    assert result.problems == [
        "01.ipynb: the kernel did not start within 300 s (status starting, load average 0.2 on 2 cores), "
        "so none of its cells was run or checked"
    ]
    assert len(page.shots) == 1  # what the page showed, for the report


def _cell(index: int, count=None, outputs=()):
    return {
        "index": index, "type": "code", "source": f"x = {index}", "count": count, "outputs": list(outputs),
        "renderedText": [o.get("text", "") for o in outputs], "domErrors": 0, "images": [],
    }  # fmt: skip


def test_cells_a_stopped_run_never_reached_are_one_finding_or_none():
    card = {"type": "stream", "name": "stdout", "text": "Run card\n  profile offline", "ename": "", "evalue": ""}
    cells = [_cell(0, 1, [card])] + [_cell(i) for i in range(1, 28)]
    notebook = {"cells": [{"cell_type": "code", "source": c["source"]} for c in cells]}
    finished = ui_findings.NotebookResult("01.ipynb")
    ui_findings.check_cells(cells, notebook, finished, finished=True)
    assert finished.problems == ["01.ipynb: cells 1 to 27 were not run (no execution count)"]
    stopped = ui_findings.NotebookResult("01.ipynb")  # its "still running after" finding already says why
    ui_findings.check_cells(cells, notebook, stopped, finished=False)
    assert stopped.problems == []
