"""Running a case in a child process of its own, so that its peak memory is its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

RUNNER = Path(__file__).resolve().parent / "run.py"
KIT_ROOT = RUNNER.parent.parent


def run_train_case(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``run.py --train-worker SPEC`` in a child process: the case's own figures, its peak memory its own."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore", TRANSFORMERS_VERBOSITY="error")
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--train-worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=KIT_ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"training worker {spec['name']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
