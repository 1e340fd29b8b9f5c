"""make ui-test: every notebook opened, run and looked at in JupyterLab, in a real headless Chromium.

    python tools/ui_test.py                  self-check, then every notebook in notebooks/
    python tools/ui_test.py --only 03        only the notebooks whose name contains "03" (and the self-check)
    python tools/ui_test.py --notebooks DIR  the notebooks in DIR instead of notebooks/ (e.g. a broken copy)
    python tools/ui_test.py --selfcheck-only only the self-check (about a minute)

Set-up, the first time: JupyterLab, Playwright (the Python driver only) and Pillow go into the
running interpreter's environment (the kit's .venv), and Debian's chromium package is installed
with apt-get when no Chromium is found. Playwright never downloads a browser of its own.

The self-check runs first: two small synthetic notebooks, written to a temporary folder, break
a figure (a cell that raises after plt.show(), an empty figure, no run card) and the sampling
explorer's callback. The test must report each breakage by notebook and cell, or it fails:
a UI test that cannot fail proves nothing.

The kit's notebooks are copied to a temporary folder and run there (autosave off), so nothing is
written back into notebooks/. Screenshots go to runs/ui/<notebook>/, the server's log and a
report to runs/ui/. Settings come from the environment (make ui-test passes the test settings:
offline, instant stand-in); results of the notebooks go to runs/ui/lab-runs unless LABS_RUN_DIR is set.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_checks import LabBrowser  # noqa: E402
from ui_chromium import SetupError, ensure_chromium  # noqa: E402
from ui_findings import NotebookResult  # noqa: E402
from ui_server import KIT_ROOT, LabServer, kernel_env  # noqa: E402

OUT = KIT_ROOT / "runs" / "ui"
NEEDED = {"jupyterlab": "jupyterlab", "playwright": "playwright", "PIL": "pillow"}

# The self-check: (notebook, cells, [(cell marker, words the problem must contain)]).
SELFCHECK = {
    "ui_selfcheck_figures.ipynb": (
        [
            'print("hello: this notebook does not start with the run card")',
            (
                "import matplotlib.pyplot as plt\n\n"
                "plt.figure(figsize=(1, 0.5))  # a figure with nothing drawn\nplt.show()"
            ),
            (
                "plt.plot([0, 1, 2], [2, 0, 1])\nplt.show()\n"
                "raise RuntimeError('figure cell broken on purpose after plt.show()')"
            ),
            'print("not reached: Run All stops at the error")',
        ],
        [
            ("cell 0 ", "not the run card"),
            ("cell 1 ", "no figure"),
            ("cell 2 ", "RuntimeError: figure cell broken on purpose"),
        ],
    ),
    "ui_selfcheck_explorer.ipynb": (
        [
            "import labs_helpers as labs\n\nsettings = labs.get_settings()\nprint(settings.run_card())",
            (
                "import numpy as np\nfrom labs_helpers import sampling, sampling_plots\n\n"
                "words, probs = sampling.toy_distribution()\nview = sampling_plots.explorer(words, np.log(probs))\n\n\n"
                "def broken(*args, **kwargs):\n    raise RuntimeError('explorer callback broken on purpose')\n\n\n"
                "sampling_plots._explorer_figure = broken  # the first picture is drawn, every redraw fails\nview"
            ),
        ],
        [("cell 1 ", "did not redraw the plot")],
    ),
}


def say(message: str) -> None:
    """Print a line of the report now (make ui-test runs for minutes)."""
    print(message, flush=True)


def ensure_python_packages() -> None:
    """Install the ``ui`` extra's packages into this interpreter's environment if any is missing."""
    missing = [pip for module, pip in NEEDED.items() if importlib.util.find_spec(module) is None]
    if not missing:
        return
    try:
        import tomllib

        extra = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ui"]
    except Exception:
        extra = list(NEEDED.values())
    say(
        f"ui-test set-up: installing {', '.join(extra)} into {sys.prefix} (first run only; "
        "Playwright is the driver only, it downloads no browser)"
    )
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *extra])
    if done.returncode != 0:
        raise SetupError(f"pip could not install {', '.join(extra)} into {sys.prefix}, so the UI test cannot run.")


def write_notebook(path: Path, sources: list[str], kernelspec: bool = True) -> None:
    """A notebook of code cells; without a kernelspec JupyterLab asks for a kernel, as for a new notebook."""
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": source}
        for i, source in enumerate(sources)
    ]
    metadata = {"language_info": {"name": "python"}}
    if kernelspec:
        metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": metadata}, indent=1))


def run_selfcheck(browser: LabBrowser, root: Path) -> list[str]:
    """Run the broken synthetic notebooks; return what the checker failed to notice (empty: all good)."""
    missed = []
    for name, (_, expected) in SELFCHECK.items():
        result = browser.check_notebook(f"selfcheck/{name}", f"selfcheck/{name}", timeout=300)
        say(f"  self-check {name}: {len(result.problems)} problem(s) reported, as intended:")
        for problem in result.problems:
            say(f"    - {problem}")
        for note in result.notes:
            say(f"    note: {note}")
        for marker, words in expected:
            if not any(marker in p and words in p for p in result.problems):
                missed.append(f"self-check: {name}, {marker.strip()}: the checker did not report '{words}'")
        for problem in result.problems:  # anything else (the kernel, the page) is the checker's fault
            if "not run" not in problem and not any(m in problem and w in problem for m, w in expected):
                missed.append(f"self-check: unexpected problem: {problem}")
    return missed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="notebooks whose name contains this")
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=KIT_ROOT / "notebooks",
        help="folder of notebooks to check (default: the kit's notebooks/)",
    )
    parser.add_argument("--selfcheck-only", action="store_true")
    parser.add_argument("--no-selfcheck", action="store_true")
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("LABS_UI_TIMEOUT", "1800")),
        help="seconds a notebook may take to run (default 1800)",
    )
    return parser.parse_args(argv)


def chosen_notebooks(args: argparse.Namespace) -> list[Path]:
    """The notebooks to check: those in --notebooks, narrowed by --only, none with --selfcheck-only."""
    notebooks = sorted(args.notebooks.resolve().glob("*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if any(key in nb.name for key in args.only)]
    return [] if args.selfcheck_only else notebooks


def prepare_root(tmp: Path, notebooks: list[Path]) -> tuple[Path, Path]:
    """The server's root (copies of the notebooks, the self-check's notebooks) and its home, under ``tmp``."""
    root, home = tmp / "root", tmp / "home"
    (root / "notebooks").mkdir(parents=True)
    (root / "selfcheck").mkdir()
    home.mkdir()
    for nb in notebooks:  # copies: what runs in the browser is never saved into notebooks/
        shutil.copy2(nb, root / "notebooks" / nb.name)
    for name, (sources, _) in SELFCHECK.items():  # the first has no kernelspec: the kernel dialog is answered
        write_notebook(root / "selfcheck" / name, sources, kernelspec=name != "ui_selfcheck_figures.ipynb")
    return root, home


def check_all(browser: LabBrowser, root: Path, notebooks: list[Path], args: argparse.Namespace) -> tuple[list, list]:
    """The self-check (unless --no-selfcheck), then each notebook; the failures and each notebook's result."""
    failures: list[str] = []
    results: list[NotebookResult] = []
    if not args.no_selfcheck:
        say("ui-test: self-check: the checker must catch a broken figure and a broken explorer")
        browser.shots_dir = OUT / "selfcheck"
        missed = run_selfcheck(browser, root)
        failures += missed
        say("ui-test: self-check " + ("FAILED" if missed else "passed"))
        browser.shots_dir = OUT
    for nb in notebooks:
        label = str(nb.relative_to(KIT_ROOT) if nb.resolve().is_relative_to(KIT_ROOT) else nb)
        say(f"ui-test: {label}: open, pick the kernel, Run All Cells ...")
        result = browser.check_notebook(f"notebooks/{nb.name}", label, timeout=args.timeout)
        results.append(result)
        failures += result.problems
        verdict = "ok" if result.ok else f"FAILED ({len(result.problems)} problem(s))"
        say(
            f"ui-test: {label}: {verdict}, {result.cells_run} code cells run in {result.run_seconds:.0f} s "
            f"({result.seconds:.0f} s with opening and checks), "
            f"{len(result.screenshots)} screenshots"
        )
        for problem in result.problems:
            say(f"    - {problem}")
        for note in result.notes:
            say(f"    note: {note}")
    return failures, results


def report(results: list[NotebookResult], failures: list[str], settings: dict, started: float) -> int:
    """Write runs/ui/report.txt, say the verdict; 1 if anything failed, else 0."""
    minutes = (time.monotonic() - started) / 60
    lines = [f"ui-test, {time.strftime('%Y-%m-%d %H:%M:%S')}, {minutes:.1f} min, settings {settings}"]
    for r in results:
        lines.append(
            f"{r.name}: {'ok' if r.ok else 'FAILED'}, run {r.run_seconds:.0f} s of {r.seconds:.0f} s; "
            "screenshots: " + ", ".join(str(p.relative_to(OUT)) for p in r.screenshots)
        )
        lines += [f"  - {p}" for p in r.problems] + [f"  note: {n}" for n in r.notes]
    lines += [f"FAILED: {f}" for f in failures]
    (OUT / "report.txt").write_text("\n".join(lines) + "\n")
    say(
        f"ui-test: screenshots of each notebook after its run are in {OUT}/<notebook>/ "
        f"(00_first_screen.png, cellNN_figure.png); report in {OUT / 'report.txt'}"
    )
    if failures:
        say(f"ui-test: FAILED after {minutes:.1f} min, {len(failures)} problem(s):")
        for failure in failures:
            say(f"  - {failure}")
        return 1
    say(f"ui-test: passed ({len(results)} notebooks and the self-check) in {minutes:.1f} min")
    return 0


def main(argv: list[str] | None = None) -> int:
    """make ui-test: 0 if every check passed, 1 if one failed, 2 if the test could not be set up."""
    args = parse_args(argv)
    started = time.monotonic()
    # A CI timeout sends SIGTERM: exit through the finally clauses, which stop the server and its kernels.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        ensure_python_packages()
        chromium = ensure_chromium(say)
    except SetupError as error:
        say(f"ui-test: {error}")
        return 2

    notebooks = chosen_notebooks(args)
    OUT.mkdir(parents=True, exist_ok=True)
    env = kernel_env()
    env.setdefault("LABS_RUN_DIR", str(OUT / "lab-runs"))
    tmp = Path(tempfile.mkdtemp(prefix="labs-ui-"))
    root, home = prepare_root(tmp, notebooks)

    settings = {k: env[k] for k in ("LABS_PROFILE", "LABS_STANDIN", "LABS_DATASET", "LABS_RUN_DIR") if k in env}
    say(f"ui-test: JupyterLab in headless {chromium}; settings {settings}")
    server = LabServer(root, home, env, OUT / "jupyterlab.log")
    try:
        server.start()
        say(f"ui-test: JupyterLab at {server.url} (token-protected), root {root}")
        browser = LabBrowser(server, chromium, OUT, say)
        try:
            failures, results = check_all(browser, root, notebooks, args)
        finally:
            browser.close()
    except SetupError as error:
        say(f"ui-test: {error}")
        return 2
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(results, failures, settings, started)


if __name__ == "__main__":
    sys.exit(main())
