"""Where a submission's kernel runs: the strongest isolation this machine offers, and its limits.

``bubblewrap``: the kernel runs in new mount, PID, network, IPC and UTS namespaces (Linux, Debian's
``bubblewrap`` package). It sees the system's programs, Python, the kit's code and the data read-only,
a private working folder, and nothing else: not the instructor's notebooks, not the other submissions,
not the run folder. When the grader runs as root the kernel also drops to an unprivileged user, so
that the process limit holds. Every process it starts dies with its PID namespace.

``copy``: the portable fallback (macOS, containers without user namespaces). The kernel imports a fresh
copy of the kit and works in a temporary folder outside the run folder, under the same limits, and the
grader kills every process it left behind (it is their subreaper); but it can read whatever the
instructor's account can read.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import LabsError
from ..settings import KIT_ROOT

NOBODY = 65534  # the unprivileged user a root grader runs kernels as
KINDS = ("auto", "bubblewrap", "copy")
GUARANTEES = {
    "bubblewrap": "each submission ran in its own Linux namespaces (bubblewrap): it could read only the kit's "
    "code, Python and the data, write only its own temporary folder, reach no network, and every process it "
    "started was killed when it finished",
    "copy": "no namespaces here, so each submission ran against a fresh copy of the kit in a temporary folder, "
    "under the same limits, and its processes were killed when it finished; it could still read what this "
    "account can read (the solutions, other submissions): for a class, install bubblewrap or grade in a "
    "container (README, 'For instructors')",
}
# Sets the limits, ignores SIGXFSZ (a write past the file limit fails instead of killing the kernel),
# drops to an unprivileged user when asked, then becomes the kernel. Standard library only.
_LAUNCH = (
    "import os,resource,signal,sys;a=sys.argv;signal.signal(signal.SIGXFSZ,signal.SIG_IGN);"
    "[resource.setrlimit(getattr(resource,k),(int(v),int(v))) for k,v in (x.split('=') for x in a[1].split(','))];"
    "u=int(a[2]);u>=0 and (os.setgroups([]),os.setgid(u),os.setuid(u));os.execv(a[3],a[3:])"
)


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use: memory, file size, processes and the size of its saved outputs."""

    memory_gb: float = 8.0
    file_mb: int = 256
    processes: int = 128
    output_mb: float = 2.0

    def rlimits(self, processes_now: int) -> str:
        """The limits as the launcher reads them (``RLIMIT_X=value,...``)."""
        return ",".join(
            [
                f"RLIMIT_AS={int(self.memory_gb * 2**30)}",
                f"RLIMIT_FSIZE={self.file_mb * 2**20}",
                f"RLIMIT_NPROC={processes_now + self.processes}",
                "RLIMIT_CORE=0",
            ]
        )


@dataclasses.dataclass(frozen=True)
class Sandbox:
    """How kernels are isolated on this machine (``kind``), under which limits, and what that guarantees."""

    kind: str
    limits: Limits
    uid: int = -1  # the user the kernel runs as (-1: the grader's own)

    @property
    def guarantee(self) -> str:
        """One sentence for the run's output: what this kind of sandbox does and does not keep apart."""
        return GUARANTEES[self.kind]

    def prepare(self, workdir: Path) -> None:
        """Make the submission's private folder, owned by the kernel's user; a fresh kit copy when no namespaces."""
        (workdir / "home").mkdir(parents=True)
        if self.kind == "copy":
            shutil.copytree(KIT_ROOT / "labs_helpers", workdir / "kit" / "labs_helpers", ignore=_PYCACHE)
        if self.uid >= 0:
            for path in [workdir, *workdir.rglob("*")]:
                os.chown(path, self.uid, self.uid, follow_symlinks=False)

    def share(self, folder: Path) -> None:
        """Let the kernel's user read ``folder`` (the grader's stand-in cache), when it is not the grader's own."""
        if self.uid >= 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)

    def env(self, workdir: Path, settings_env: dict[str, str]) -> dict[str, str]:
        """The kernel's whole environment: nothing of the grader's but the path, the locale and ``settings_env``."""
        home = workdir / "home"
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMPDIR": "/tmp" if self.kind == "bubblewrap" else str(home),
            "MPLCONFIGDIR": str(home / ".matplotlib"),
            "HF_HOME": str(home / ".hf"),
            "HF_HUB_OFFLINE": "1",
            **settings_env,
        }
        # The kernel imports the grader's own kit (bound read-only), or its fresh copy: never another checkout
        # that an editable install might point to.
        env["PYTHONPATH"] = str(workdir / "kit" if self.kind == "copy" else KIT_ROOT)
        return env

    def command(self, argv: list[str], workdir: Path, readable: list[Path]) -> list[str]:
        """``argv`` (the kernel's command) wrapped in the limits and, with namespaces, in bubblewrap."""
        launch = [sys.executable, "-I", "-c", _LAUNCH, self.limits.rlimits(_processes_of(self.uid)), str(self.uid)]
        launch += [_absolute(argv[0]), *argv[1:]]
        if self.kind != "bubblewrap":
            return launch
        # As root the launcher needs its capabilities to become NOBODY, which then leaves it none.
        drop = [] if self.uid >= 0 else ["--cap-drop", "ALL"]
        return [*bubblewrap_prefix(workdir, readable, drop), *launch]


def _absolute(program: str) -> str:
    """The program's full path (the launcher execs it without a PATH search)."""
    return program if os.path.isabs(program) else shutil.which(program) or program


_PYCACHE = shutil.ignore_patterns("__pycache__", "*.pyc")
# Every namespace but the user's: a root grader keeps the power to become NOBODY, and an unprivileged
# one gets a user namespace from bubblewrap all the same.
NAMESPACES = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")


def bubblewrap_prefix(workdir: Path, readable: list[Path], extra: list[str]) -> list[str]:
    """bubblewrap's options: system and Python read-only, ``readable`` read-only, ``workdir`` writable."""
    options = ["bwrap", "--die-with-parent", "--new-session", *NAMESPACES, *extra]
    for system in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/sys/devices/system/cpu"):
        options += ["--ro-bind-try", system, system]
    options += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # before the binds: some may be under /tmp
    python = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}
    binds = sorted(python | {Path(p).resolve() for p in readable} | {workdir.resolve()})
    for folder in sorted({parent for path in binds for parent in path.parents} - {Path("/"), Path("/tmp")}):
        options += ["--dir", str(folder)]  # made 0755, so that an unprivileged kernel can walk down to the binds
    for path in binds:
        options += ["--ro-bind" if path != workdir.resolve() else "--bind", str(path), str(path)]
    options += ["--chdir", str(workdir)]
    return options


def _processes_of(uid: int) -> int:
    """How many processes the kernel's user runs now (the process limit counts them all)."""
    uid = os.getuid() if uid < 0 else uid
    count = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            count += entry.stat().st_uid == uid
        except OSError:
            continue
    return count


@functools.lru_cache(maxsize=1)
def namespaces_work() -> bool:
    """Whether bubblewrap is installed and can make namespaces here (some containers forbid them)."""
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--proc", "/proc", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose(kind: str, limits: Limits) -> Sandbox:
    """The sandbox for ``kind`` ('auto': the strongest this machine offers); one sentence if it is not here."""
    if kind not in KINDS:
        raise LabsError(f"--sandbox {kind}: choose one of {', '.join(KINDS)}.")
    if kind == "auto":
        kind = "bubblewrap" if namespaces_work() else "copy"
    elif kind == "bubblewrap" and not namespaces_work():
        raise LabsError(
            "--sandbox bubblewrap: bubblewrap is not installed or cannot make namespaces here; install it "
            "(apt-get install bubblewrap) or pass --sandbox auto."
        )
    uid = NOBODY if kind == "bubblewrap" and os.geteuid() == 0 else -1
    return Sandbox(kind, limits, uid)


def become_subreaper() -> None:
    """Adopt every orphaned descendant (Linux), so that ``kill_descendants`` finds detached processes too."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def descendants(pid: int | None = None) -> list[int]:
    """The process ids below ``pid`` (default: this process), read from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [os.getpid() if pid is None else pid]
    while stack:
        children = parents.get(stack.pop(), [])
        found += children
        stack += children
    return found


def kill_descendants(grace: float = 0.5) -> int:
    """Kill every process this one started, directly or not (the kernels and what they left); return how many."""
    killed = 0
    for _ in range(20):  # a process may start another while we kill: repeat until none are left
        pids = descendants()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                continue
        _reap(grace / 10)
    return killed


def _reap(wait: float) -> None:
    """Collect the exit status of killed children so that they do not linger as zombies."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)
