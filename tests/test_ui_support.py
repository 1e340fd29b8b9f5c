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
import ui_support as ui  # noqa: E402


def test_missing_browser_that_cannot_be_installed_fails_with_one_sentence(monkeypatch):
    monkeypatch.setattr(ui, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.delenv("LABS_UI_CHROMIUM", raising=False)
    monkeypatch.setenv("LABS_UI_APT_GET", "false")  # an apt-get that always fails
    monkeypatch.setattr(ui.shutil, "which", lambda name: "/bin/false" if name in ("false", "sudo") else None)
    said = []
    with pytest.raises(ui.SetupError) as raised:
        ui.ensure_chromium(said.append)
    message = str(raised.value)
    assert message.endswith(".") and ". " not in message.rstrip("."), message  # one sentence
    assert "chromium" in message.lower() and "LABS_UI_CHROMIUM" in message


def test_a_chromium_named_in_the_environment_must_exist(monkeypatch):
    monkeypatch.setenv("LABS_UI_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(ui.SetupError, match="LABS_UI_CHROMIUM"):
        ui.ensure_chromium(print)


def test_figure_cells_are_the_plt_show_cells_and_the_explorer():
    notebook = json.loads((KIT_ROOT / "notebooks" / "03_generation_config.ipynb").read_text())
    figures, explorers = ui.figure_cells(notebook), ui.explorer_cells(notebook)
    assert len(explorers) == 1 and explorers[0] in figures
    for index in figures:
        source = "".join(notebook["cells"][index]["source"])
        assert "plt.show()" in source or "explorer(" in source
    assert len(figures) >= 5


def test_kernels_draw_inline_figures_whatever_the_test_settings():
    env = ui.kernel_env({"MPLBACKEND": "agg", "PYTHONPATH": "elsewhere"})
    assert "MPLBACKEND" not in env  # ipykernel then picks the inline backend
    assert env["PYTHONPATH"].split(":")[0] == str(KIT_ROOT)


def test_image_difference():
    from PIL import Image

    def png(colour, size=(40, 20)):
        buffer = io.BytesIO()
        Image.new("RGB", size, colour).save(buffer, format="PNG")
        return buffer.getvalue()

    assert ui.image_difference(png("white"), png("white")) == 0.0
    assert ui.image_difference(png("white"), png("black")) == 1.0
    assert ui.image_difference(png("white"), png("white", (41, 20))) == 1.0


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
    with pytest.raises(ui.SetupError, match="could not install"):
        ui_test.ensure_python_packages()
