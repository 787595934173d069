"""Ports handed out to listen on are never ones the kernel could give an outgoing connection
meanwhile, and never the same twice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.controlplane import processes
from devtools.controlplane.processes import free_port


def test_a_port_to_listen_on_is_below_the_ephemeral_range_and_free() -> None:
    low = processes._ephemeral_low()

    port = free_port()

    assert processes.LISTEN_PORTS_FROM <= port < low
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))  # nothing listens there


def test_no_port_is_handed_out_twice() -> None:
    ports = [free_port() for _ in range(200)]

    assert len(set(ports)) == len(ports)


def test_a_port_something_listens_on_is_not_handed_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        monkeypatch.setattr(processes, "LISTEN_PORTS_FROM", busy)
        monkeypatch.setattr(processes, "_ephemeral_low", lambda: busy + 1)
        monkeypatch.setattr(processes, "_handed_out", set())
        monkeypatch.setattr(processes, "RESERVATIONS", tmp_path)

        with pytest.raises(RuntimeError, match="no free port"):
            free_port()


@pytest.fixture
def one_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    """free_port choosing among exactly one free port, with reservations of the test's own."""
    port = free_port()
    monkeypatch.setattr(processes, "LISTEN_PORTS_FROM", port)
    monkeypatch.setattr(processes, "_ephemeral_low", lambda: port + 1)
    monkeypatch.setattr(processes, "_handed_out", set())
    monkeypatch.setattr(processes, "RESERVATIONS", tmp_path)
    return port


def test_a_port_another_live_harness_process_reserved_is_not_handed_out(
    one_port: int, tmp_path: Path
) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            (tmp_path / str(one_port)).write_text(str(other.pid))

            with pytest.raises(RuntimeError, match="no free port"):
                free_port()
        finally:
            other.kill()


def test_a_reservation_whose_taker_is_gone_is_taken_over(one_port: int, tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait()
    (tmp_path / str(one_port)).write_text(str(gone.pid))

    assert free_port() == one_port
    assert (tmp_path / str(one_port)).read_text() == str(os.getpid())
