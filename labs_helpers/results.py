"""Where notebooks leave their numbers, so that ``make labs`` can gather them in one summary."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import LabsError
from .settings import Settings


def _plain(value: Any) -> Any:
    """Numbers as plain floats/ints (no numpy types, no NaN; 6 decimals, or 6 significant digits below 1)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return float(f"{value:.6g}") if abs(value) < 1 else round(value, 6)  # 4.77e-07 stays, not 0.0
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def save_results(name: str, data: Any, settings: Settings) -> Path:
    """Write ``data`` (a dict, or a pandas DataFrame as a table) to ``<run dir>/results/<name>.json``."""
    folder = Path(settings.run_dir) / "results"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LabsError(
            f"Cannot write results to {folder} ({error.strerror}). Set LABS_RUN_DIR to a writable folder."
        ) from error
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame
        data.to_csv(folder / f"{name}.csv", index=True)
        payload = {"table": _plain(data.reset_index().to_dict(orient="records"))}
    else:
        payload = _plain(data)
    payload = {"name": name, "model": settings.model_label, "profile": settings.profile, "data": payload}
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)
    return path


def load_results(run_dir: str | Path) -> dict[str, dict]:
    """All results a run wrote, by name."""
    folder = Path(run_dir) / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
