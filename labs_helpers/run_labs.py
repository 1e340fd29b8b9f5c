"""``make labs``: run every notebook headless and gather what they measured into one summary.

    python -m labs_helpers.run_labs [NOTEBOOK ...]

Writes ``runs/<timestamp>/``: the executed notebooks, ``summary.md`` and ``summary.json``.
Exits non-zero naming the notebook and cell that failed; what already ran stays written.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from .errors import LabsError
from .findings import notebook_findings
from .findings import number as score_text
from .results import load_results
from .runs import new_run_folder
from .settings import KIT_ROOT, Settings
from .threads import apply_thread_env

NOTEBOOKS = KIT_ROOT / "notebooks"


def _execute(path: Path, out_path: Path, timeout: int, ran: list[int]) -> float:
    """Execute one notebook in its folder, saving it (also when a cell fails); return seconds.

    ``ran`` collects the index of each cell as it starts, so a kernel that dies can be reported by its cell.
    """
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # a cell that does not run must not show the outputs saved in the repository
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    code_cells = sum(c.cell_type == "code" for c in notebook.cells)
    bar = tqdm(total=code_cells, desc=path.stem, unit="cell", leave=True, disable=False)
    client = NotebookClient(
        notebook,
        timeout=timeout,  # per cell: sized for the course profile's training cells on a CPU (an hour or more)
        startup_timeout=600,  # a busy machine can take minutes to start a kernel (the default 60 s calls it failed)
        iopub_timeout=120,  # a cell's last outputs can lag its reply on a busy machine (the default 4 s drops them)
        shutdown_kernel="graceful",
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel start-up chatter (TCP notice) on stderr
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=lambda cell, cell_index: ran.append(cell_index),
        on_cell_complete=lambda cell, cell_index: bar.update(1),
    )
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        bar.close()
        nbformat.write(notebook, out_path)
    return time.perf_counter() - start


def _first_line(cell) -> str:
    return cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""


def _failed_cell(error: Exception, notebook: Path, ran: list[int], rest: list[Path]) -> str:
    """What went wrong, in the learner's terms: the notebook's own error, a dead kernel, or a timeout."""
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    cells = nbformat.read(notebook, as_version=4).cells
    last = f"cell {ran[-1] + 1} ({_first_line(cells[ran[-1]])!r})" if ran else "its start"
    again = "python -m labs_helpers.run_labs " + " ".join(str(p) for p in rest)
    if isinstance(error, DeadKernelError):
        return (
            f"the kernel died while running {last} (out of memory, or the process was killed). "
            f"Free memory or lower the budgets (LABS_BATCH_SIZE, LABS_TRAIN_STEPS), then resume with: {again}"
        )
    if isinstance(error, CellTimeoutError):
        return f"{last}, which ran longer than --timeout allows. Raise --timeout, then resume with: {again}"
    if isinstance(error, CellExecutionError):
        for index, cell in enumerate(cells):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    return f"cell {index + 1} ({_first_line(cell)!r}): {output.get('ename')}: {output.get('evalue')}"
        return f"{last}: {(str(error).strip().splitlines() or [type(error).__name__])[-1]}"
    # Not the notebook's own error (nbclient's or the machine's): name it as such, never as the lesson's.
    return f"{last}: the notebook runner itself failed ({type(error).__name__}: {error}). Resume with: {again}"


def _summary(run_dir: Path, card: str, timings: dict[str, float], statuses: dict[str, str]) -> str:
    results = load_results(run_dir)
    failed = [f"{name} {status}" for name, status in statuses.items() if status not in ("ok", "not run")]
    not_run = sum(status == "not run" for status in statuses.values())
    verdict = (
        f"**This run did not finish**: {failed[0] if failed else 'it stopped'}; {not_run} notebook(s) not run."
        if failed or not_run
        else f"All {len(statuses)} notebooks ran: ok."
    )
    findings = [f"- {sentence}" for sentence in notebook_findings(results)]
    lines = [f"# Labs run {run_dir.name}", "", verdict, ""]
    lines += ["## What this run found", "", *findings, ""] if findings else []
    lines += ["```", card, "```", "", "## Notebooks", ""]
    lines += ["| notebook | status | seconds |", "|---|---|---|"]
    lines += [
        f"| {name} | {_cell(status)} | {f'{timings[name]:.1f}' if name in timings else ''} |"
        for name, status in statuses.items()
    ]
    for name, result in results.items():
        lines += ["", f"## {name}", "", f"model: {result.get('model')}", ""]
        data = result.get("data", {})
        table = data.get("table") if isinstance(data, dict) else None
        if table:
            columns = list(table[0])
            lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in table]
        else:
            lines += ["```json", json.dumps(data, indent=2), "```"]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if isinstance(value, float):  # scores as the findings write them; counts and sizes read as numbers
        text = str(int(value)) if value.is_integer() else score_text(value) if abs(value) < 10 else f"{value:.1f}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


# What the kernels inherit to keep library chatter out of the executed notebooks: the tests' settings
# (the Makefile's QUIET), but for PYTHONWARNINGS=ignore: the libraries' warnings are silenced where they
# arise (settings.LIBRARY_NOTICES, export.quantize_int8), and the kit's own ones teach (notebook 02's
# PromptTooLongWarning). The runner's own progress bar is shown all the same (tqdm(disable=False)).
QUIET = dict(
    TQDM_DISABLE="1",
    HF_DATASETS_DISABLE_PROGRESS_BARS="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    TRANSFORMERS_VERBOSITY="error",
    TRANSFORMERS_NO_ADVISORY_WARNINGS="1",
    TOKENIZERS_PARALLELISM="false",
)  # not MPLBACKEND=agg either: the executed notebooks keep their figures


def _hand_down(settings: Settings, run_dir: Path) -> None:
    """The settings the kernels inherit, decided once here, paths absolute (the kernels run in notebooks/)."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    os.environ["LABS_RUN_DIR"] = str(run_dir)  # the kernels save their results there
    os.environ["LABS_PROFILE"] = settings.profile  # no notebook probes the Hub again,
    os.environ["LABS_PROFILE_ASKED"] = settings.requested_profile  # and every run card says what was asked and why
    os.environ["LABS_PROFILE_NOTE"] = settings.profile_note
    os.environ["LABS_DATASET"] = settings.dataset
    os.environ["LABS_CACHE"] = str(settings.cache_dir)
    if not settings.uses_standin:
        os.environ["LABS_MODEL"] = settings.model


def _parser() -> argparse.ArgumentParser:
    """The runner's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: all in notebooks/)")
    parser.add_argument("--runs", default=str(KIT_ROOT / "runs"), help="where to create the run folder")
    parser.add_argument(
        "--timeout", type=int, default=6 * 3600, help="seconds allowed per cell (training on a CPU can take hours)"
    )
    return parser


def _run_notebooks(paths: list[Path], run_dir: Path, timeout: int) -> tuple[dict[str, float], dict[str, str]]:
    """Execute ``paths`` in order into ``run_dir`` until one fails: (seconds, status) per notebook."""
    timings: dict[str, float] = {}
    statuses = {path.name: "not run" for path in paths}
    for number, path in enumerate(paths, start=1):
        print(f"\n[{number}/{len(paths)}] {path.name}", flush=True)
        out_path = run_dir / path.name
        ran: list[int] = []
        try:
            timings[path.name] = _execute(path.resolve(), out_path, timeout, ran)
            statuses[path.name] = "ok"
        except Exception as error:  # nbclient's CellExecutionError, a dead kernel, a timeout
            statuses[path.name] = f"failed at {_failed_cell(error, out_path, ran, paths[number - 1 :])}"
            print(
                f"\nmake labs: {path} {statuses[path.name]}\nThe executed notebook is in {out_path}.", file=sys.stderr
            )
            break
    return timings, statuses


def _write_summary(run_dir: Path, card: str, timings: dict[str, float], statuses: dict[str, str]) -> None:
    """``summary.md`` for people, ``summary.json`` for scripts."""
    ok = all(value == "ok" for value in statuses.values())
    (run_dir / "summary.md").write_text(_summary(run_dir, card, timings, statuses))
    results = load_results(run_dir)
    summary = dict(settings=card, statuses=statuses, timings_s=timings, results=results, ok=ok)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the notebooks, write ``runs/<timestamp>/``, return the exit status."""
    args = _parser().parse_args(argv)
    apply_thread_env()  # before torch loads: this process (the stand-in may be built here) and the kernels it starts

    from .data import load_dialogsum
    from .models import resolve_model
    from .settings import get_settings

    run_dir = None
    try:
        settings = get_settings()
        dataset = load_dialogsum(settings.dataset)  # fail here, before any notebook, on bad data
        run_dir = new_run_folder(Path(args.runs), dt.datetime.now().strftime("%Y%m%d-%H%M%S"), stamped=True)
        settings = dataclasses.replace(settings, run_dir=run_dir)  # the card names the folder really used
        print(settings.run_card(), flush=True)
        print(f"\nmodel: {resolve_model(settings, dataset)}", flush=True)
    except LabsError as error:
        if run_dir is not None:
            run_dir.rmdir()  # still empty: a run that did not start leaves nothing behind
        print(f"\nmake labs: {error}", file=sys.stderr)
        return 2

    _hand_down(settings, run_dir)
    paths = [Path(p) for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    timings, statuses = _run_notebooks(paths, run_dir, args.timeout)
    status = 0 if all(value == "ok" for value in statuses.values()) else 1
    _write_summary(run_dir, settings.run_card(), timings, statuses)
    print(f"\nSummary: {run_dir / 'summary.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
