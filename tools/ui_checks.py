"""make ui-test's browser checks: a headless Chromium on the JupyterLab server, one page per notebook.

Everything a learner sees is checked in the browser (errors, figures, widgets), so this module
talks to a real JupyterLab (``ui_server``) through Playwright, in the system's Chromium (``ui_chromium``).
What the cells show is judged in ``ui_findings``, the sampling explorer in ``ui_explorer``.

The checks, per notebook (``check_notebook``):

* the kernel is the kit's (its display name is ``KERNEL_DISPLAY``); a kernel dialog is answered;
* Run > Run All Cells runs every code cell (each ends with an execution count) and the kernel
  goes idle;
* no cell shows an error (an ``error`` output, or a widget that failed to display);
* every figure cell (one that calls ``plt.show()`` or draws the sampling explorer) shows an
  image of non-trivial size with something drawn on it;
* the first output of the notebook is the run card;
* the sampling explorer (notebook 03): three sliders render, dragging the temperature slider
  redraws a different distribution, and values typed outside a slider's range are refused.

Every problem is reported as ``<notebook>, cell <index> [In <n>] `<first line>`: <what>``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from ui_explorer import check_explorer
from ui_findings import NotebookResult, check_cells, explorer_cells, figure_cells
from ui_server import KERNEL_DISPLAY, LabServer

VIEWPORT = {"width": 1400, "height": 900}
# Waits follow the machine: on a quiet one a kernel starts in seconds; under load it may take minutes.
# Each wait is its quiet-machine bound times the load per core (at least 1, at most MAX_PATIENCE).
KERNEL_START_S = 300  # a kernel that is not idle after this long on a quiet machine is not coming
SLOW_KERNEL_S = 60  # a kernel that takes longer than this to start is reported as slow (a note, not a failure)
MAX_PATIENCE = 6.0  # 30 minutes for a kernel at most, however loaded the machine


def machine_load() -> tuple[float, int]:
    """The machine's 1-minute load average and its number of cores (load 0.0 where the system does not say)."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # Windows
        load = 0.0
    return load, os.cpu_count() or 1


def patience(load: float, cores: int) -> float:
    """How many times a quiet machine's wait to allow: the load per core, at least 1, at most ``MAX_PATIENCE``."""
    return min(MAX_PATIENCE, max(1.0, load / max(cores, 1)))


def describe_load(load: float, cores: int) -> str:
    """The load as the report words it."""
    return f"load average {load:.1f} on {cores} core{'s' if cores != 1 else ''}"


# Reads the notebook as the page shows it: per cell its outputs (from the model) and what the
# DOM rendered (images with their natural size and how much is drawn on them).
_CELLS_JS = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const ink = (img) => {
    try {
      const w = Math.min(img.naturalWidth, 400), h = Math.min(img.naturalHeight, 400);
      if (!w || !h) return 0;
      const c = document.createElement('canvas'); c.width = w; c.height = h;
      const g = c.getContext('2d'); g.drawImage(img, 0, 0, w, h);
      const d = g.getImageData(0, 0, w, h).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i+3] > 0 && (d[i] < 235 || d[i+1] < 235 || d[i+2] < 235)) n++;
      return n / (w * h);
    } catch (e) { return -1; }
  };
  return panel.content.widgets.map((cell, index) => {
    const isCode = cell.model.type === 'code';
    const outputs = isCode ? cell.model.outputs.toJSON() : [];
    const rendered = [...cell.node.querySelectorAll('.jp-OutputArea-output')];
    return {
      index, type: cell.model.type,
      source: cell.model.sharedModel.getSource(),
      count: isCode ? cell.model.executionCount : null,
      prompt: isCode ? (cell.node.querySelector('.jp-InputArea-prompt')?.textContent || '') : '',
      outputs: outputs.map(o => ({type: o.output_type, ename: o.ename || '', evalue: o.evalue || '',
                                  name: o.name || '', mimes: Object.keys(o.data || {}),
                                  text: (Array.isArray(o.text) ? o.text.join('') : (o.text || '')).slice(0, 300)})),
      renderedText: rendered.map(e => e.innerText.slice(0, 300)),
      domErrors: cell.node.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').length,
      images: [...cell.node.querySelectorAll('.jp-OutputArea-output img')].map(img => ({
        w: img.naturalWidth, h: img.naturalHeight, complete: img.complete, ink: ink(img)})),
    };
  });
}
"""

_STATE_JS = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.sessionContext) return null;
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const prompts = [...panel.content.node.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(e => e.textContent);
  return {status: kernel ? kernel.status : 'none', display: panel.sessionContext.kernelDisplayName,
          running: prompts.filter(p => p.includes('*')).length,
          done: prompts.filter(p => /\\[\\d+\\]/.test(p)).length, code: prompts.length,
          dialog: !!document.querySelector('.jp-Dialog')};
}
"""


class LabBrowser:
    """A headless Chromium on the JupyterLab server; one page per notebook."""

    def __init__(self, server: LabServer, chromium: str, shots_dir: Path, say=print):
        from playwright.sync_api import sync_playwright

        self.server, self.shots_dir, self.say = server, Path(shots_dir), say
        self._pw = sync_playwright().start()
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        args += ["--disable-gpu", "--disable-dev-shm-usage"]
        self.browser = self._pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        self.context = self.browser.new_context(viewport=VIEWPORT, device_scale_factor=1)

    def close(self) -> None:
        """Close the browser and stop the driver."""
        try:
            self.browser.close()
        finally:
            self._pw.stop()

    # -- one notebook, start to end

    def check_notebook(self, rel_path: str, label: str, timeout: float = 1800) -> NotebookResult:
        """Open ``rel_path`` (under the server's root), run all cells, check what the learner sees."""
        started = time.monotonic()
        result = NotebookResult(label)
        notebook = json.loads((self.server.root_dir / rel_path).read_text())
        page = self.context.new_page()
        page.set_default_timeout(60_000 * patience(*machine_load()))
        shots = self.shots_dir / Path(rel_path).stem
        shutil.rmtree(shots, ignore_errors=True)
        shots.mkdir(parents=True)
        console: list[str] = []
        page.on("pageerror", lambda error: console.append(str(error)))
        try:
            if not self._open(page, rel_path, result):  # one finding: the cells that never ran are not more of them
                shot = shots / "00_first_screen.png"
                page.screenshot(path=shot)
                result.screenshots.append(shot)
                return result
            finished = self._run_all(page, result, timeout)
            cells = page.evaluate(_CELLS_JS)
            check_cells(cells, notebook, result, finished)
            self._look(page, notebook, cells, result, shots)
        except Exception as error:  # a timeout or a page that never loaded: still a named failure
            result.problems.append(
                f"{label}: the browser check stopped: {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}"
            )
            try:
                shot = shots / "zz_at_failure.png"
                page.screenshot(path=shot)
                result.screenshots.append(shot)
            except Exception:
                pass
        finally:
            if console:
                result.notes.append(f"{label}: page errors in the browser console: {console[:3]}")
            try:
                page.evaluate(
                    "async () => { const p = window.jupyterapp.shell.currentWidget;"
                    " if (p && p.sessionContext) await p.sessionContext.shutdown(); }"
                )
            except Exception:
                pass
            page.close()
            result.seconds = time.monotonic() - started
        return result

    def _look(self, page, notebook: dict, cells: list[dict], result: NotebookResult, shots: Path) -> None:
        """Screenshots of the first screen and of each figure, then the explorer's checks where its cell ran clean."""
        shot = shots / "00_first_screen.png"
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.node.scrollTop = 0")
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.scrollToItem?.(0)")
        page.screenshot(path=shot)
        result.screenshots.append(shot)
        for index in figure_cells(notebook):
            shot = shots / f"cell{index:02d}_figure.png"
            output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-Cell-outputWrapper")
            if output.count() and output.first.is_visible():
                output.first.screenshot(path=shot)
                result.screenshots.append(shot)
        for index in explorer_cells(notebook):
            if not any(f"cell {index} " in p for p in result.problems):
                check_explorer(page, index, cells[index], result, shots)

    def _open(self, page, rel_path: str, result: NotebookResult) -> bool:
        """Open the notebook and wait for its kernel; False if the kernel never became idle."""
        workspace = "ui-" + Path(rel_path).stem.replace("_", "-")
        page.goto(
            f"{self.server.url}/lab/workspaces/{workspace}/tree/{rel_path}?reset&token={self.server.token}",
            wait_until="domcontentloaded",
        )
        page_wait = 120_000 * patience(*machine_load())  # loading JupyterLab's page slows down under load too
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=page_wait)
        page.evaluate("async () => { await window.jupyterapp.restored; }")
        page.wait_for_function(
            "() => { const p = window.jupyterapp.shell.currentWidget;"
            " return p && p.context && p.context.isReady && p.content && p.content.widgets.length > 0; }",
            timeout=page_wait,
        )
        state = self._wait_for_kernel(page, result)
        if not state or state["status"] != "idle":
            return False
        if state["display"] != KERNEL_DISPLAY:
            result.problems.append(
                f"{result.name}: the notebook runs on kernel {state['display']!r}, not the kit's {KERNEL_DISPLAY!r}"
            )
        return True

    def _wait_for_kernel(self, page, result: NotebookResult) -> dict | None:
        """Wait for the kernel to go idle, answering a kernel dialog, as long as the machine's load says is fair.

        The bound is recomputed as the wait goes on (``KERNEL_START_S`` times the load per core), so a
        machine that gets busier gets more time. A slow start is a note; no start within the bound, or a
        kernel that died, is one problem.
        """
        started, state = time.monotonic(), None
        while True:
            load, cores = machine_load()
            limit = KERNEL_START_S * patience(load, cores)
            waited = time.monotonic() - started
            state = page.evaluate(_STATE_JS)
            if state and state["dialog"]:
                self._answer_kernel_dialog(page, result)
            elif state and state["status"] in ("idle", "dead"):
                break
            if waited >= limit:
                break
            page.wait_for_timeout(500)
        status = state and state["status"]
        if status == "idle":
            if waited > SLOW_KERNEL_S:
                result.notes.append(
                    f"{result.name}: the kernel was slow to start ({waited:.0f} s, {describe_load(load, cores)})"
                )
            return state
        why = "died while starting" if status == "dead" else f"did not start within {waited:.0f} s"
        result.problems.append(
            f"{result.name}: the kernel {why} (status {status}, {describe_load(load, cores)}), "
            "so none of its cells was run or checked"
        )
        return state

    def _answer_kernel_dialog(self, page, result: NotebookResult) -> None:
        """A learner is asked for a kernel when the notebook names none it knows: pick the kit's."""
        dialog = page.locator(".jp-Dialog")
        dialog_title = dialog.locator(".jp-Dialog-header").first.inner_text().strip()
        select = dialog.locator("select")
        if select.count():
            select.first.select_option(label=KERNEL_DISPLAY)
        dialog.locator("button.jp-mod-accept").first.click()
        result.notes.append(f"{result.name}: answered JupyterLab's dialog ({dialog_title}) with the kit's kernel")

    def _run_all(self, page, result: NotebookResult, timeout: float) -> bool:
        """Run > Run All Cells, then wait for the kernel to be idle with nothing queued; False after ``timeout``."""
        # As a learner does: the Run menu, Run All Cells.
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        started, last_report, idle_since, finished = time.monotonic(), time.monotonic(), None, False
        state = page.evaluate(_STATE_JS)
        while time.monotonic() - started < timeout:
            state = page.evaluate(_STATE_JS)
            if state["running"] == 0 and state["status"] == "idle" and state["done"] > 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= 2.0:  # idle and nothing queued for 2 s
                    finished = True
                    break
            else:
                idle_since = None
            if time.monotonic() - last_report >= 30:
                self.say(
                    f"  {result.name}: {state['done']}/{state['code']} code cells run, "
                    f"kernel {state['status']}, {time.monotonic() - started:.0f} s"
                )
                last_report = time.monotonic()
            page.wait_for_timeout(500)
        else:
            result.problems.append(
                f"{result.name}: still running after {timeout:.0f} s ({state['done']}/{state['code']} code cells done)"
            )
        result.cells_run = state["done"]
        result.run_seconds = time.monotonic() - started
        return finished
