"""Notebook hygiene for authors: outputs are committed only in the cells nbval checks.

    python tools/nbtool.py fill  NOTEBOOK ...   execute, keep outputs of checked cells only
    python tools/nbtool.py strip NOTEBOOK ...   drop outputs of unchecked cells (no execution)
    python tools/nbtool.py check NOTEBOOK ...   exit 1 if a notebook keeps unchecked outputs

``make clean-notebooks`` runs ``fill`` under the test settings (offline, instant stand-in),
so the outputs it keeps are the ones nbval will compare against in CI.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import nbformat
from nbformat.warnings import MissingIDFieldWarning

CHECK_TAG = "nbval-check-output"


def is_checked(cell) -> bool:
    """True for code cells whose output nbval compares in lax mode."""
    return cell.cell_type == "code" and (
        CHECK_TAG in cell.get("metadata", {}).get("tags", []) or "NBVAL_CHECK_OUTPUT" in cell.source
    )


def strip(notebook) -> None:
    """Remove outputs and counts of unchecked cells, and run-specific or editor metadata."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if not is_checked(cell):
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }


def fill(path: Path) -> None:
    """Execute the notebook in its folder, then strip it."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    strip(notebook)
    nbformat.write(notebook, path)


def problems(path: Path) -> list[str]:
    """What is wrong with the notebook's committed state."""
    text = path.read_text()
    found = [  # from the raw JSON: nbformat fills in missing ids as it reads
        f"{path}: cell {index} has no id (nbformat 4.5 needs one; `python tools/nbtool.py strip` adds it)"
        for index, cell in enumerate(json.loads(text)["cells"], start=1)
        if "id" not in cell
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingIDFieldWarning)  # reported above
        notebook = nbformat.reads(text, as_version=4)
    for index, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type == "code" and not is_checked(cell) and cell.outputs:
            found.append(f"{path}: cell {index} keeps outputs that nbval does not check")
    return found


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if len(argv) < 2 or argv[0] not in ("fill", "strip", "check"):
        print(__doc__)
        return 2
    command, paths = argv[0], [Path(p) for p in argv[1:]]
    if command == "check":
        found = [p for path in paths for p in problems(path)]
        print("\n".join(found) or f"{len(paths)} notebooks clean")
        return 1 if found else 0
    for path in paths:
        if command == "fill":
            print(f"executing {path} ...", flush=True)
            fill(path)
        else:
            notebook = nbformat.read(path, as_version=4)
            strip(notebook)
            nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
