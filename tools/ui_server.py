"""make ui-test's JupyterLab: a server on a free localhost port, whose kernel is the kit's interpreter."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ui_chromium import SetupError

KIT_ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "python3"  # the notebooks' kernelspec name; the server's python3 is the kit's .venv
KERNEL_DISPLAY = "Python 3 (labs kit .venv)"

# JupyterLab settings for the run: nothing saved, every cell in the DOM, no news pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
}


def free_port() -> int:
    """A localhost port that nothing listens on now."""
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
        """The server's address (without the token)."""
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
        """Start the server and wait until it answers; SetupError if it exits or stays silent for ``timeout`` s."""
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
        """Stop the server and the kernels it started; close its log."""
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
