"""Entry point for a SageMaker training job: runs ``python -m labs_helpers.train`` inside the job.

SageMaker runs ``python tools/sagemaker_train.py --kind lora --steps 500 ...`` from the kit's
folder (``source_dir``), passing hyperparameters as ``--name value``. This file turns ``--kind``
into the positional argument of ``labs_helpers.train`` and writes the run under SM_MODEL_DIR, so
that the trained model or adapter is what the job uploads to S3.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the kit, without pip install

from labs_helpers.train import main  # noqa: E402


def translate(argv: list[str], environ: dict[str, str]) -> list[str]:
    """SageMaker's ``--kind X`` as the positional kind; the run folder under SM_MODEL_DIR."""
    args = list(argv)
    kind = "full"
    if "--kind" in args:
        at = args.index("--kind")
        kind = args[at + 1]
        del args[at : at + 2]
    if "--output-dir" not in args and environ.get("SM_MODEL_DIR"):
        args += ["--output-dir", str(Path(environ["SM_MODEL_DIR"]) / kind)]
    return [kind, *args]


if __name__ == "__main__":
    sys.exit(main(translate(sys.argv[1:], dict(os.environ))))
