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
import threading
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
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()
_handing_out = threading.Lock()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, for a process to listen on.

    Not one the kernel would pick itself (``bind`` to port 0 does, from the ephemeral range):
    any outgoing connection takes its local port from that range too, so such a port could be
    in use by a client connection before the process that was handed it binds it (seen:
    ``address already in use`` from a webhook starting while the API server was busy). Below
    that range the kernel picks nothing; a random one is tried, and none twice per harness."""
    below = _ephemeral_low()
    with _handing_out:
        for _ in range(1000):
            port = random.randrange(LISTEN_PORTS_FROM, below)  # noqa: S311 - not a secret
            if port not in _handed_out and not port_is_bound(port):
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS_FROM}..{below - 1}")


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
