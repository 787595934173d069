"""The harness cleans up after itself: no process left running, no port left bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.processes import port_is_bound
from devtools.controlplane.waiting import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it holds no port and runs nothing.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_children_die_when_the_harness_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from devtools.controlplane.processes import ManagedProcess
        child = ManagedProcess("sleeper", ["sleep", "300"], Path({str(tmp_path)!r}))
        print(child.pid, flush=True)
        time.sleep(300)
        """
    )
    command = [sys.executable, "-c", script]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as harness:
        assert harness.stdout is not None
        child_pid = int(harness.stdout.readline())
        assert _alive(child_pid)

        harness.send_signal(signal.SIGKILL)
        harness.wait(10)

    wait_for(lambda: not _alive(child_pid), 10, "the orphaned child to be killed")


@pytest.mark.cluster
def test_stopping_a_cluster_leaves_no_process_and_no_bound_port(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "cluster")
    cluster.start()
    processes = list(cluster.processes.values())
    ports = [cluster.apiserver_port, cluster.etcd_port, cluster.etcd_peer_port]
    assert all(p.alive() for p in processes)

    cluster.stop()

    assert not any(_alive(p.pid) for p in processes)
    assert not any(port_is_bound(port) for port in ports)
    assert cluster.processes == {}
