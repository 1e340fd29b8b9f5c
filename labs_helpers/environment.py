"""Check the learner's environment and say what to fix: versions, device, Hub, data, cache."""

from __future__ import annotations

import dataclasses
import sys
from importlib import metadata

from .errors import LabsError
from .settings import Settings

MINIMUM_VERSIONS = {"torch": "2.4", "transformers": "5.0", "datasets": "3.0", "peft": "0.17", "rouge-score": "0.1.2"}


@dataclasses.dataclass
class Check:
    """One line of the environment report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        mark = "ok " if self.ok else "FIX"
        return f"[{mark}] {self.name:<14} {self.detail}" + ("" if self.ok else f"\n        -> {self.fix}")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_packages() -> list[Check]:
    """Installed versions against the kit's minimums."""
    checks = [
        Check(
            "python",
            sys.version_info >= (3, 10),
            sys.version.split()[0],
            "Use Python 3.10 or newer (3.11 recommended).",
        )
    ]
    for package, minimum in MINIMUM_VERSIONS.items():
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            checks.append(
                Check(
                    package, False, "not installed", "Run `make install` (or `pip install -e .`) in the kit's folder."
                )
            )
            continue
        ok = _version_tuple(version) >= _version_tuple(minimum)
        checks.append(Check(package, ok, version, f"pip install -U '{package}>={minimum}'"))
    return checks


def check_environment(settings: Settings) -> list[Check]:
    """Every check, from packages to the model folder, in the order a learner would fix them."""
    from .data import load_dialogsum
    from .hub import hub_reachable

    checks = check_packages()
    checks.append(Check("device", True, f"{settings.device} ({settings.dtype})"))
    reachable = hub_reachable()
    checks.append(
        Check(
            "hub",
            reachable or settings.offline,
            "reachable" if reachable else "not reachable",
            "Connect to the internet, or run offline: LABS_PROFILE=offline.",
        )
    )
    try:
        dataset = load_dialogsum(settings.dataset)
        sizes = ", ".join(f"{split} {len(dataset[split]):,}" for split in dataset)
        checks.append(Check("dataset", True, f"{settings.dataset}: {sizes}"))
    except LabsError as error:
        checks.append(Check("dataset", False, settings.dataset, str(error)))
    checks.append(check_model_setting(settings))
    return checks


def check_model_setting(settings: Settings) -> Check:
    """The model: the stand-in (built on first use), or a folder or Hub id that must be an encoder-decoder model."""
    from .models import check_model

    if settings.uses_standin:
        return Check("model", True, f"{settings.model_label}, built in {settings.cache_dir} on first use")
    try:
        return Check("model", True, check_model(settings.model))
    except LabsError as error:
        return Check("model", False, settings.model, str(error))


def report(checks: list[Check]) -> str:
    """The checks as text, with a last line that says whether anything needs fixing."""
    bad = [c for c in checks if not c.ok]
    tail = "Everything is in place." if not bad else f"{len(bad)} thing(s) to fix above."
    return "\n".join(str(c) for c in checks) + "\n" + tail
