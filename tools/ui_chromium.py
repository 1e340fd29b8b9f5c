"""make ui-test's browser: the system's Chromium (Debian's ``chromium`` package), installed with apt-get if missing.

Playwright is only the driver: the browser is never a build Playwright downloads itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")


class SetupError(RuntimeError):
    """Something the test needs is missing and could not be installed; the message is one sentence."""


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
