"""Test support for ``make ui-test``: a JupyterLab server, a headless Chromium, and the checks.

Everything a learner sees is checked in the browser (errors, figures, widgets), so this module
talks to a real JupyterLab through Playwright. Playwright is only the driver: the browser is the
system's Chromium (Debian's ``chromium`` package), never a build Playwright downloads itself.

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

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "python3"  # the notebooks' kernelspec name; the server's python3 is the kit's .venv
KERNEL_DISPLAY = "Python 3 (labs kit .venv)"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
MIN_FIGURE_PX = (200, 100)  # natural width x height of a figure worth the name
MIN_INK = 0.005  # share of pixels that are not near-white: an empty canvas has 0
VIEWPORT = {"width": 1400, "height": 900}
# Waits follow the machine: on a quiet one a kernel starts in seconds; under load it may take minutes.
# Each wait is its quiet-machine bound times the load per core (at least 1, at most MAX_PATIENCE).
KERNEL_START_S = 300  # a kernel that is not idle after this long on a quiet machine is not coming
SLOW_KERNEL_S = 60  # a kernel that takes longer than this to start is reported as slow (a note, not a failure)
MAX_PATIENCE = 6.0  # 30 minutes for a kernel at most, however loaded the machine

# JupyterLab settings for the run: nothing saved, every cell in the DOM, no news pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
}


class SetupError(RuntimeError):
    """Something the test needs is missing and could not be installed; the message is one sentence."""


# --------------------------------------------------------------------------------------- set-up


def find_chromium() -> str | None:
    """The system Chromium binary: $LABS_UI_CHROMIUM, Debian's real binary, or one on PATH."""
    override = os.environ.get("LABS_UI_CHROMIUM")
    if override:
        return override if (Path(override).is_file() or shutil.which(override)) else None
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if Path(candidate).is_file() else shutil.which(candidate)
        if found:
            return found
    return None


def ensure_chromium(say=print) -> str:
    """Chromium's path, installing Debian's package with apt-get the first time; SetupError if impossible."""
    found = find_chromium()
    if found:
        return found
    if os.environ.get("LABS_UI_CHROMIUM"):
        raise SetupError(
            f"LABS_UI_CHROMIUM={os.environ['LABS_UI_CHROMIUM']} is not a Chromium binary, "
            "so the UI test cannot start a browser."
        )
    apt = os.environ.get("LABS_UI_APT_GET", "apt-get")  # overridable so the failure path can be tested
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo = [] if root else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None or not shutil.which(apt):
        raise SetupError(
            "Chromium is not installed and cannot be installed here (no apt-get as root): "
            "install Debian's chromium package, or set LABS_UI_CHROMIUM to a Chromium binary."
        )
    say("ui-test set-up: Chromium is missing; installing Debian's chromium package with apt-get (first run only)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for args in (["update"], ["install", "-y", "--no-install-recommends", "chromium", "fonts-dejavu-core"]):
        done = subprocess.run(sudo + [apt, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
            raise SetupError(
                f"Chromium could not be installed: `{apt} {' '.join(args)}` failed "
                f"({tail[0].strip()}); install Debian's chromium package, "
                "or set LABS_UI_CHROMIUM to a Chromium binary."
            )
    found = find_chromium()
    if not found:
        raise SetupError(
            "apt-get installed chromium but no Chromium binary was found afterwards; set LABS_UI_CHROMIUM to its path."
        )
    say(f"ui-test set-up: installed {found}")
    return found


# ------------------------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_env(base: dict | None = None) -> dict:
    """The environment for the server and so for its kernels: the caller's, with inline figures."""
    env = dict(os.environ if base is None else base)
    # make test sets MPLBACKEND=agg for nbval; a kernel with agg draws nothing on plt.show().
    # Without it ipykernel chooses the inline backend, which is what a learner has.
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KIT_ROOT), env.get("PYTHONPATH")]))
    return env


class LabServer:
    """``jupyter lab`` on a free localhost port with a token, its files and settings in ``home``."""

    def __init__(self, root_dir: Path, home: Path, env: dict, log_path: Path, python: str = sys.executable):
        self.root_dir, self.home, self.log_path, self.python = Path(root_dir), Path(home), log_path, python
        self.env = dict(env)
        self.port = free_port()
        self.token = os.urandom(16).hex()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self) -> None:
        # The kernel: the notebooks ask for "python3"; this one is the interpreter running the test.
        spec_dir = self.home / "data" / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True, exist_ok=True)
        (spec_dir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [self.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": KERNEL_DISPLAY,
                    "language": "python",
                    "metadata": {"debugger": False},
                },
                indent=1,
            )
        )
        for name, values in LAB_SETTINGS.items():
            path = self.home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        (self.home / "config").mkdir(exist_ok=True)
        (self.home / "workspaces").mkdir(exist_ok=True)
        # Our data dir first, so no user- or system-wide "python3" kernel can shadow the kit's.
        self.env.update(
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            JUPYTER_PREFER_ENV_PATH="0",
        )  # in a venv jupyter_core would look in the venv first
        self.env.pop("JUPYTER_PATH", None)

    def start(self, timeout: float = 120) -> "LabServer":
        self._prepare()
        args = [
            self.python,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.port_retries=0",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={self.home / 'settings'}",
            f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            args, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root_dir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"JupyterLab exited at start (code {self.proc.returncode}); see {self.log_path}.")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise SetupError(f"JupyterLab did not answer within {timeout:.0f} s; see {self.log_path}.")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------------------------------------- the checks


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


@dataclass
class NotebookResult:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0  # all of it: page, kernel, run, checks, screenshots
    run_seconds: float = 0.0  # from Run All Cells to the kernel idle
    cells_run: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def figure_cells(notebook: dict) -> list[int]:
    """Indices of the cells a learner expects a picture from: ``plt.show()`` or the sampling explorer."""
    return [
        i
        for i, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
        and ("plt.show()" in "".join(cell["source"]) or "explorer(" in "".join(cell["source"]))
    ]


def explorer_cells(notebook: dict) -> list[int]:
    return [
        i
        for i, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and "explorer(" in "".join(cell["source"])
    ]


def image_difference(png_a: bytes, png_b: bytes) -> float:
    """Share of pixels that differ between two screenshots (1.0 when their sizes differ)."""
    from PIL import Image, ImageChops

    a, b = (Image.open(io.BytesIO(p)).convert("RGB") for p in (png_a, png_b))
    if a.size != b.size:
        return 1.0
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 16 else 0)
    return diff.histogram()[255] / (a.size[0] * a.size[1])


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


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    line = (lines[0] if lines else "").strip()
    return line if len(line) <= 60 else line[:57] + "..."


def _cells(cells: list[tuple[int, str]], result: NotebookResult) -> str:
    """``<where> was`` for one cell, ``<notebook>: cells A to B were`` for several: one finding either way."""
    if len(cells) == 1:
        return f"{cells[0][1]}: was"
    return f"{result.name}: cells {cells[0][0]} to {cells[-1][0]} were"


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
            self._check_cells(cells, notebook, result, finished)
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
                    self._check_explorer(page, index, cells[index], result, shots)
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

    def _where(self, result: NotebookResult, cell: dict) -> str:
        count = f" [In {cell['count']}]" if cell.get("count") else ""
        return f"{result.name}, cell {cell['index']}{count} `{_first_line(cell['source'])}`"

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

    def _check_cells(self, cells: list[dict], notebook: dict, result: NotebookResult, finished: bool = True) -> None:
        """What the learner sees, cell by cell; one finding for a run of cells that never ran, whatever the cause.

        ``finished`` False: the run was stopped (its own finding says so), so the cells it never reached
        and a missing run card are not findings of their own.
        """
        figures = set(figure_cells(notebook))
        first_output = None
        stopped_at, not_run, unreached = None, [], []  # one line each for the cells after an error / never reached
        for cell in cells:
            if cell["type"] != "code":
                continue
            where = self._where(result, cell)
            if first_output is None and cell["outputs"]:
                first_output = (cell, cell["renderedText"][0] if cell["renderedText"] else "")
            errors = [o for o in cell["outputs"] if o["type"] == "error"]
            for error in errors:
                result.problems.append(f"{where}: shows an error: {error['ename']}: {error['evalue']}")
            if not errors and cell["domErrors"]:
                result.problems.append(f"{where}: shows an error output")
            for text in cell["renderedText"]:
                if "Error displaying widget" in text or "Failed to display" in text:
                    result.problems.append(f"{where}: a widget did not display: {text.strip()[:120]}")
            stderr = [o["text"].strip() for o in cell["outputs"] if o["name"] == "stderr" and o["text"].strip()]
            if stderr:
                result.notes.append(f"{where}: writes to stderr: {stderr[0][:120]!r}")
            if not cell["count"] and not errors:
                (unreached if stopped_at is None else not_run).append((cell["index"], where))
            if errors and stopped_at is None:
                stopped_at = cell["index"]
            if cell["index"] in figures and not errors and cell["count"]:
                good = [
                    im
                    for im in cell["images"]
                    if im["complete"]
                    and im["w"] >= MIN_FIGURE_PX[0]
                    and im["h"] >= MIN_FIGURE_PX[1]
                    and im["ink"] >= MIN_INK
                ]
                if not good:
                    seen = ", ".join(f"{im['w']}x{im['h']} px, {im['ink']:.1%} drawn" for im in cell["images"])
                    result.problems.append(
                        f"{where}: is a figure cell but shows no figure of at least "
                        f"{MIN_FIGURE_PX[0]}x{MIN_FIGURE_PX[1]} px"
                        + (f" (images: {seen})" if seen else " (no image at all)")
                    )
        if not_run:
            stop = f"Run All stops at the error in cell {stopped_at}"
            result.problems.append(f"{_cells(not_run, result)} not run ({stop})")
        if unreached and finished:
            result.problems.append(f"{_cells(unreached, result)} not run (no execution count)")
        if first_output is None and finished:
            result.problems.append(f"{result.name}: no cell has an output, so no run card")
        elif not first_output[1].lstrip().startswith("Run card"):
            result.problems.append(
                f"{self._where(result, first_output[0])}: the first output is not the run card "
                f"(it starts {first_output[1].strip()[:60]!r})"
            )

    # -- the sampling explorer

    def _check_explorer(self, page, index: int, cell: dict, result: NotebookResult, shots: Path) -> None:
        where = self._where(result, cell)
        output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-Cell-outputWrapper")
        sliders = output.locator(".widget-slider")
        try:
            sliders.first.wait_for(state="visible", timeout=30_000)
        except Exception:
            result.problems.append(f"{where}: the explorer's sliders did not render")
            return
        labels = [sliders.nth(i).locator(".widget-label").inner_text().strip() for i in range(sliders.count())]
        expected = ["temperature", "top_k (0=off)", "top_p"]
        if labels != expected:
            result.problems.append(f"{where}: the explorer shows sliders {labels}, expected {expected}")
            return
        image = output.locator(".widget-image").first
        temperature = sliders.nth(0)
        readout = temperature.locator(".widget-readout")
        before_value, before_src = readout.inner_text().strip(), image.get_attribute("src")
        before_png = image.screenshot(path=shots / f"cell{index:02d}_explorer_before.png")
        # Drag the temperature handle to the right, as with a mouse.
        handle = temperature.locator(".noUi-handle")
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        track = temperature.locator(".noUi-target").bounding_box() or {"width": 300}
        page.mouse.move(x + max(15, track["width"] * 0.15), y, steps=8)  # part way, not to the end
        page.mouse.up()
        moved_value = readout.inner_text().strip()
        if moved_value == before_value:
            result.problems.append(f"{where}: dragging the temperature slider did not move it ({before_value})")
            return
        try:
            page.wait_for_function(
                "([img, src]) => img.getAttribute('src') !== src && img.complete",
                arg=[image.element_handle(), before_src],
                timeout=30_000,
            )
            page.wait_for_timeout(300)
        except Exception:
            result.problems.append(
                f"{where}: moving the temperature slider from {before_value} to {moved_value} "
                "did not redraw the plot within 30 s (is the explorer's callback broken?)"
            )
            return
        after_png = image.screenshot(path=shots / f"cell{index:02d}_explorer_after.png")
        result.screenshots += [
            shots / f"cell{index:02d}_explorer_before.png",
            shots / f"cell{index:02d}_explorer_after.png",
        ]
        changed = image_difference(before_png, after_png)
        if changed < 0.002:
            result.problems.append(
                f"{where}: moving the temperature slider from {before_value} to {moved_value} "
                f"left the plotted distribution unchanged ({changed:.2%} of pixels differ)"
            )
        else:
            result.notes.append(
                f"{where}: temperature {before_value} -> {moved_value} changed {changed:.1%} of the plot's pixels"
            )
        # Out-of-range values typed into a slider's box are refused: the slider stays within its range.
        for slider, typed, low, high in (
            (sliders.nth(0), "1000", 10**-1.3, 10**0.7),
            (sliders.nth(1), "-5", 0, 50),
            (sliders.nth(2), "1.5", 0.01, 1.0),
        ):
            box_ = slider.locator(".widget-readout")
            name = slider.locator(".widget-label").inner_text().strip()
            box_.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(typed)
            page.keyboard.press("Enter")
            page.wait_for_timeout(500)
            shown = box_.inner_text().strip()
            try:
                value = float(shown)
            except ValueError:
                value = float("nan")
            if not (low - 1e-6 <= value <= high + 1e-6):
                result.problems.append(
                    f"{where}: typing {typed} into the {name} slider was accepted "
                    f"(it shows {shown!r}; its range is {low:g} to {high:g})"
                )
        page.wait_for_timeout(500)
        output.screenshot(path=shots / f"cell{index:02d}_explorer_final.png")
        result.screenshots.append(shots / f"cell{index:02d}_explorer_final.png")
