"""Child processes that never outlive the harness.

Each process runs in its own session (so a stop reaches its whole group), writes its output to
a log file in the cluster directory, and is killed by the kernel if the harness dies
(``PR_SET_PDEATHSIG``): an interrupted or SIGKILLed test run leaves nothing running and no port
bound.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
"""Resolved once in the parent: between fork and exec the child must not spawn anything."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGKILL the child when the *thread* that started it exits."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may already be gone between fork and prctl.
    if os.getppid() == 1:
        os._exit(1)


LISTEN_PORTS_FROM = 20000
"""The lowest port handed out to listen on; the highest is just below the ephemeral range."""
RESERVATIONS = Path(tempfile.gettempdir()) / "spot-failover-ports"
"""One file per port handed out and not yet surely bound, shared by every harness process of
the machine (test runs, benchmarks, the demo side by side), holding the pid that took it."""
RESERVATION_S = 600.0
"""How long a handed-out port stays reserved while its taker lives (by then it is bound, and
found so, or it was never used)."""
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()
_handing_out = threading.Lock()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, for a process to listen on.

    Between this answer and the process's bind, nothing else may take the port. So it is not
    one the kernel would pick itself (``bind`` to port 0 does, from the ephemeral range, where
    every outgoing connection takes its local port too), and it is reserved against the other
    harness processes of the machine, which hand out ports from the same range
    (:data:`RESERVATIONS`): a whole-suite run beside a benchmark once started two processes on
    one port (``address already in use``). None is handed out twice per harness."""
    below = _ephemeral_low()
    with _handing_out:
        for _ in range(1000):
            port = random.randrange(LISTEN_PORTS_FROM, below)  # noqa: S311 - not a secret
            if port in _handed_out or port_is_bound(port) or not _reserve(port):
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS_FROM}..{below - 1}")


def _reserve(port: int) -> bool:
    """Take ``port`` for this process unless another live harness process holds it."""
    RESERVATIONS.mkdir(exist_ok=True)
    path = RESERVATIONS / str(port)
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _stale(path):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as held:
            held.write(str(os.getpid()))
        return True
    return False


def _stale(path: Path) -> bool:
    """A reservation whose taker is gone, or that is older than :data:`RESERVATION_S`."""
    try:
        age_s = time.time() - path.stat().st_mtime
        pid = int(path.read_text() or "0")
    except (OSError, ValueError):
        return True
    if age_s > RESERVATION_S or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class ManagedProcess:
    """One child process with its log file; ``stop()`` is idempotent."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        ports: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.ports = tuple(ports)
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - async-signal-safe: one prctl call
        )
        log.debug("started", extra={"child": name, "pid": self.popen.pid})

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The end of the process's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace_s``, and reap it."""
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(grace_s)
        # Children of the group that ignored SIGTERM.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()

    def kill(self) -> None:
        """SIGKILL, as when a node vanishes."""
        self.signal(signal.SIGKILL)
        self.popen.wait(10)
        self._log.close()
