"""A submission's kernel, started in its sandbox: run its cells, call its functions, and stop it.

The grader drives the kernel with nbclient over Unix sockets in the submission's private folder (the
sandbox has no network). Cells run with a deadline for the whole notebook, enforced by a watchdog
that kills the kernel; saved outputs are capped; and a learner's function is called with the
checker's inputs as JSON (``wire``), so what comes back is data the grader checks, never code.
"""

from __future__ import annotations

import ast
import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import zmq
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from . import wire
from .sandbox import Sandbox

MAX_MESSAGE_BYTES = 256 * 2**20  # a kernel that sends more in one message is cut off, not read into memory


class Stopped(BaseException):
    """The kernel can answer no more (time up, or dead): not the learner's exception, so checkers do not catch it."""


class SandboxedKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, starting the kernel inside the submission's sandbox."""

    sandbox: Sandbox
    workdir: Path
    readable: list[Path]

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command line, wrapped in the sandbox and its limits."""
        if self.sandbox.kind == "bubblewrap":  # its parent is the PID namespace's init (pid 1), which
            extra_arguments = [*(extra_arguments or []), "--IPKernelApp.parent_handle=1"]  # ipykernel takes for gone
        return self.sandbox.command(super().format_kernel_cmd(extra_arguments), self.workdir, self.readable)

    def write_connection_file(self, **kwargs: Any) -> tuple[str, dict]:
        """Write the connection file where the kernel can read it (its owner, when it runs as another user)."""
        written = super().write_connection_file(**kwargs)
        if self.sandbox.uid >= 0:
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)
        return written


class CappedClient(NotebookClient):
    """nbclient's client, keeping at most ``output_limit`` bytes of outputs; past it, one note says they were cut."""

    output_limit: int = 2_000_000
    output_used: int = 0
    output_cut: bool = False

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        """Keep an output while the notebook's budget lasts."""
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        if self.output_used + size > self.output_limit:
            if not self.output_cut:
                self.output_cut = True
                note = f"[the grader cut this notebook's outputs at {self.output_limit / 1e6:g} MB]\n"
                outs.append(new_output("stream", name="stderr", text=note))
            return None
        self.output_used += size
        return super().output(outs, msg, display_id, cell_index)


class Kernel:
    """One submission's running kernel: cells executed under a deadline, functions called across the boundary."""

    def __init__(self, client: CappedClient, time_limit: float) -> None:
        self.client, self.time_limit = client, time_limit
        self.deadline = time.monotonic() + time_limit
        self.stopped = ""

    def run_cell(self, cell: NotebookNode, index: int, store_history: bool = True) -> None:
        """Execute one notebook cell; raise ``Stopped`` (and remember why) when the kernel can go no further."""
        if self.stopped:
            raise Stopped(self.stopped)
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._stop(f"the notebook ran out of its {self.time_limit:.0f} s before cell {index + 1}")
        self.client.timeout = max(1, int(left))
        try:
            self.client.execute_cell(cell, index, store_history=store_history)
        except CellTimeoutError:
            self._stop(f"cell {index + 1} was still running when the notebook's {self.time_limit:.0f} s were up")
        except DeadKernelError:
            if time.monotonic() >= self.deadline:
                self._stop(f"cell {index + 1} was still running when the notebook's {self.time_limit:.0f} s were up")
            self._stop(f"the kernel died in cell {index + 1} (out of memory, or the code ended the process)")

    def _stop(self, why: str) -> None:
        self.stopped = why
        raise Stopped(why)

    def call(self, name: str, args: tuple, refs: Mapping[int, str], index: int, value: bool = False) -> Any:
        """``name(*args)`` in the kernel (or the value of ``name``), as data; the learner's exception re-raised."""
        payload = wire.dumps({"args": [wire.encode(arg, refs) for arg in args], "call": not value})
        source = (
            "__import__('labs_helpers.instructor.wire', fromlist=['answer_call'])"
            f".answer_call(globals(), {name!r}, {payload!r})"
        )
        probe = new_code_cell(source)
        original = self.client.nb.cells[index]
        try:
            self.run_cell(probe, index, store_history=False)
        finally:
            self.client.nb.cells[index] = original
        result, after = _reply(probe)
        for original, changed in zip(args, after):  # what the call did to its arguments, the checker sees too
            wire.write_back(original, changed)
        return result


def _reply(probe: NotebookNode) -> tuple[Any, list]:
    """What a call returned and its arguments afterwards, read from its cell; the learner's exception raised."""
    results = [o for o in probe.outputs if o.get("output_type") == "execute_result"]
    try:
        text = ast.literal_eval(results[-1]["data"]["text/plain"])
        reply = wire.loads(text) if isinstance(text, str) else None
    except (IndexError, KeyError, ValueError, SyntaxError, MemoryError, RecursionError):
        reply = None
    if not isinstance(reply, dict):
        raise RuntimeError("the kernel sent back no readable answer (was the display of results changed?)")
    if "ok" in reply:
        after = reply.get("after")
        return wire.decode(reply["ok"]), [wire.decode(a) for a in after] if isinstance(after, list) else []
    raise _rebuilt(str(reply.get("raised", "Exception")), bool(reply.get("builtin")), str(reply.get("message", "")))


def _rebuilt(name: str, builtin: bool, message: str) -> BaseException:
    """The learner's exception as the checker can catch it: a builtin type as itself, any other by name."""
    import builtins

    kind = getattr(builtins, name, None) if builtin else None
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(message)
    return type(name if name.isidentifier() else "RemoteError", (wire.RemoteError,), {})(message)


@contextlib.contextmanager
def started(
    notebook: NotebookNode, sandbox: Sandbox, workdir: Path, readable: list[Path], env: dict, time_limit: float
) -> Iterator[Kernel]:
    """A kernel for ``notebook`` in its sandbox, killed when the block ends or when the time is up."""
    manager = SandboxedKernelManager(kernel_name="python3", transport="ipc")
    manager.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)  # the channels' sockets inherit it
    manager.sandbox, manager.workdir, manager.readable = sandbox, workdir, readable
    manager.connection_file = str(workdir / "kernel.json")
    client = CappedClient(
        notebook,
        km=manager,
        timeout=int(time_limit),
        startup_timeout=300,  # a busy machine can take a minute to start a kernel
        allow_errors=True,  # like nbgrader: a cell that raises scores zero, the rest still run
        interrupt_on_timeout=False,
        record_timing=False,  # the executed notebook depends on the submission only
        shutdown_kernel="immediate",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(workdir)}},
    )
    client.output_limit = int(sandbox.limits.output_mb * 1e6)
    kernel = Kernel(client, time_limit)
    with client.setup_kernel(env=env):
        watchdog = threading.Timer(time_limit + 5, _kill, args=(manager,))
        watchdog.daemon = True
        watchdog.start()
        try:
            yield kernel
        finally:
            watchdog.cancel()


def _kill(manager: SandboxedKernelManager) -> None:
    """Kill the kernel's process (with namespaces, everything inside dies with it)."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    if process is not None:
        with contextlib.suppress(OSError):
            process.kill()
