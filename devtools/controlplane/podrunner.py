"""Run each pod's sidecar as a local process: the harness's kubelet, for sidecars only.

kwok fakes kubelets: pods become Running and Ready, but no container runs. The sidecar does its
whole job from inside a pod (it watches its node, holds a Lease, patches its Deployment), so the
harness runs it for every pod that carries it, as a kubelet would:

* one process per scheduled pod that has the sidecar container, either native (an init
  container with ``restartPolicy: Always``) or a regular container, started as a kubelet would
  start it, with the pod's own identity (:mod:`devtools.controlplane.launch`, which also lists
  where one machine stands in for a node); its token is renewed at 80 % of its life;
* stopped as a kubelet stops a container of a deleted pod: SIGTERM, then SIGKILL after the
  pod's grace period (capped). kwok removes deleted pods at once, so "gone" counts as "deleting".
* There are no restarts: a sidecar that exits stays exited with its exit code recorded, so a
  crash shows in a test instead of hiding in a restart loop. :meth:`PodRunner.kill` and
  :meth:`PodRunner.kill_node` play a node vanishing, whose kubelet restarts nothing either.

Two threads: a :class:`~devtools.controlplane.podwatch.PodWatch` lists and watches the
namespace's pods (with devtools' :class:`~devtools.controlplane.watch.ResourceWatch`, which
reconnects across watch expiry, 410 Gone and API server restarts); the supervisor starts, stops
and reaps the processes. Only the supervisor starts processes, because each child dies with the
thread that started it (parent-death signal): that thread lives until every child is stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.launch import Launcher, SidecarProcess
from devtools.controlplane.podspec import (
    GRACE_CAP_S,
    Container,
    EnvNotReady,
    Pod,
    Program,
    grace_period_s,
    sidecar_container,
)
from devtools.controlplane.podwatch import PodWatch
from devtools.controlplane.processes import ManagedProcess
from devtools.controlplane.waiting import wait_for
from devtools.controlplane.watch import describe
from spot_common import contract

log = logging.getLogger(__name__)

TOKEN_EXPIRATION_S = 3600
_TICK_S = 0.1


def _exit_code(record: SidecarProcess) -> int:
    if record.exit_code is None:
        raise RuntimeError(f"the sidecar of {record.pod} has not exited")
    return record.exit_code


def _retry_delay(failures: int) -> float:
    """Like the kubelet's back-off for a container that cannot start, on a test's time scale."""
    return float(min(0.25 * 2**failures, 5.0))


# --- The runner ------------------------------------------------------------------------------


class PodRunner:
    """Sidecar processes for the pods of ``namespace``; a context manager, or start()/stop()."""

    def __init__(
        self,
        cluster: LocalCluster,
        kube: Kube,
        *,
        namespace: str,
        program: Program,
        log_dir: Path,
        node_env: Callable[[str], Mapping[str, str]] | None = None,
        container_name: str = contract.SIDECAR_CONTAINER,
        grace_cap_s: float = GRACE_CAP_S,
        token_expiration_s: int = TOKEN_EXPIRATION_S,
        token_refresh_s: float | None = None,
    ) -> None:
        if isinstance(program, str):
            raise TypeError("program is an argv list, or a function returning one; not a string")
        self._namespace = namespace
        self._container_name, self._grace_cap_s = container_name, grace_cap_s
        self._launcher = Launcher(
            cluster,
            kube,
            namespace=namespace,
            program=program,
            log_dir=log_dir,
            node_env=node_env,
            grace_cap_s=grace_cap_s,
            token_expiration_s=token_expiration_s,
            token_refresh_s=token_refresh_s or 0.8 * token_expiration_s,
        )
        self._records: dict[str, SidecarProcess] = {}
        self._retries: dict[str, tuple[int, float]] = {}  # pod uid -> (failures, next attempt)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._watch = PodWatch(kube.api, namespace, self._wake.set)
        self._supervisor = threading.Thread(
            target=self._supervise_forever, name=f"pod-runner-{namespace}", daemon=True
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> PodRunner:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout_s: float = 30.0) -> None:
        """Start watching and running; return once the first list of pods has been seen."""
        self._launcher.prepare()
        self._supervisor.start()
        try:
            self._watch.start(timeout_s)
        except TimeoutError:
            self.stop()
            raise TimeoutError(
                f"no list of the pods of {self._namespace} in {timeout_s:.0f}s"
            ) from None

    def stop(self) -> None:
        """Stop the watch, then every sidecar (SIGTERM, SIGKILL after its grace period)."""
        self._watch.stop()
        self._stopping.set()
        self._wake.set()
        if self._supervisor.ident is not None:
            self._supervisor.join()

    # --- what runs -------------------------------------------------------------------------

    def pods(self) -> list[str]:
        """Names of the pods whose sidecar is running."""
        with self._lock:
            return sorted(name for name, record in self._records.items() if record.running)

    def every_pod(self) -> list[str]:
        """Names of every pod that has had a sidecar, running or not."""
        with self._lock:
            return sorted(self._records)

    def record(self, pod: str) -> SidecarProcess:
        """The latest process of ``pod``; KeyError if it never had one."""
        with self._lock:
            return self._records[pod]

    def process(self, pod: str) -> ManagedProcess:
        return self.record(pod).process

    def metrics_port(self, pod: str) -> int | None:
        """The local port standing in for the pod's metrics port, if it has one."""
        return self.record(pod).metrics_port

    def logs(self, pod: str) -> str:
        return self.record(pod).log_path.read_text(errors="replace")

    def exit_codes(self) -> dict[str, int]:
        """Exit codes of the sidecars that have stopped, by pod."""
        with self._lock:
            return {
                name: record.exit_code
                for name, record in self._records.items()
                if record.exit_code is not None
            }

    def wait_running(self, count: int, timeout_s: float = 30.0) -> list[str]:
        """Wait until exactly ``count`` sidecars run; their pods."""
        wait_for(lambda: len(self.pods()) == count, timeout_s, f"{count} running sidecars")
        return self.pods()

    def wait_exited(self, pod: str, timeout_s: float = 40.0) -> int:
        """Wait until the sidecar of ``pod`` has stopped and been reaped; its exit code."""
        record = wait_for(lambda: self._records.get(pod), timeout_s, f"a sidecar for {pod}")
        wait_for(lambda: not record.running, timeout_s, f"the sidecar of {pod} to exit")
        return _exit_code(record)

    # --- faults --------------------------------------------------------------------------------

    def kill(self, pod: str) -> int:
        """SIGKILL the sidecar of ``pod``, as when its node vanishes; its exit code."""
        record = self.record(pod)
        self._kill(record)
        return _exit_code(record)

    def kill_node(self, node: str) -> list[str]:
        """SIGKILL the sidecars of every pod on ``node``; their pods."""
        doomed = [record for record in self._running() if record.node == node]
        for record in doomed:
            self._kill(record)
        return sorted(record.pod for record in doomed)

    def terminate(self, pod: str) -> int:
        """SIGTERM the sidecar of ``pod`` (SIGKILL after its grace period); its exit code."""
        record = self.record(pod)
        self._begin_termination(record, None, time.monotonic())
        self._wake.set()
        return self.wait_exited(pod, record.grace_s + 10)

    # --- supervisor thread ---------------------------------------------------------------------

    def _supervise_forever(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.wait(_TICK_S)
                self._wake.clear()
                self._tick()
        finally:
            self._drain()

    def _tick(self) -> None:
        try:
            self._reconcile(self._watch.snapshot(), time.monotonic())
        except Exception:  # one failed round must not end the runner
            log.exception("pod runner round failed", extra={"namespace": self._namespace})

    def _reconcile(self, pods: Mapping[str, Pod], now: float) -> None:
        for record in self._running():
            self._supervise(record, pods.get(record.pod), now)
        live = {pod["metadata"]["uid"] for pod in pods.values()}
        self._retries = {uid: retry for uid, retry in self._retries.items() if uid in live}
        for name, pod in pods.items():
            container = sidecar_container(pod, self._container_name)
            if container is not None and self._due(name, pod, now):
                self._try_start(pod, container, now)

    def _running(self) -> list[SidecarProcess]:
        with self._lock:
            return [record for record in self._records.values() if record.running]

    def _supervise(self, record: SidecarProcess, pod: Pod | None, now: float) -> None:
        if not record.process.alive():
            self._finish(record)
        elif record.kill_at is not None:
            if now >= record.kill_at:
                self._kill(record)
        elif not self._wanted(record, pod):
            self._begin_termination(record, pod, now)
        elif pod is not None and now >= record.refresh_at:
            self._refresh_token(record, pod, now)

    def _wanted(self, record: SidecarProcess, pod: Pod | None) -> bool:
        return (
            pod is not None
            and pod["metadata"]["uid"] == record.uid
            and sidecar_container(pod, self._container_name) is not None
        )

    def _due(self, name: str, pod: Pod, now: float) -> bool:
        """A pod gets one process, once the previous one of the same name is gone."""
        record = self._records.get(name)
        if record is not None and (record.uid == pod["metadata"]["uid"] or record.running):
            return False
        _, next_attempt = self._retries.get(pod["metadata"]["uid"], (0, 0.0))
        return now >= next_attempt

    def _try_start(self, pod: Pod, container: Container, now: float) -> None:
        uid = pod["metadata"]["uid"]
        try:
            record = self._launcher.launch(pod, container, now)
        except Exception as error:  # a pod that cannot start must not stop the others
            failures = self._retries.get(uid, (0, 0.0))[0] + 1
            delay = 0.2 if isinstance(error, EnvNotReady) else _retry_delay(failures)
            self._retries[uid] = (failures, now + delay)
            level = logging.DEBUG if isinstance(error, EnvNotReady) else logging.WARNING
            log.log(
                level,
                "sidecar not started; retrying",
                extra={"pod": pod["metadata"]["name"], "error": describe(error), "in_s": delay},
            )
            return
        log.info(
            "sidecar started",
            extra={"pod": record.pod, "node": record.node, "pid": record.process.pid},
        )
        self._retries.pop(uid, None)
        with self._lock:
            self._records[record.pod] = record

    def _refresh_token(self, record: SidecarProcess, pod: Pod, now: float) -> None:
        try:
            self._launcher.write_credentials(pod)
        except Exception as error:  # the old token is still valid for a while
            record.refresh_at = now + 5.0
            log.warning(
                "token renewal failed; retrying",
                extra={"pod": record.pod, "error": describe(error)},
            )
            return
        record.refresh_at = now + self._launcher.token_refresh_s

    def _begin_termination(self, record: SidecarProcess, pod: Pod | None, now: float) -> None:
        with self._lock:
            if not record.running or record.kill_at is not None:
                return
            if pod is not None and pod["metadata"]["uid"] == record.uid:
                record.grace_s = grace_period_s(pod, self._grace_cap_s)
            record.process.signal(signal.SIGTERM)
            record.kill_at = now + record.grace_s
        log.info("sidecar terminating", extra={"pod": record.pod, "grace_s": record.grace_s})

    def _kill(self, record: SidecarProcess) -> None:
        record.process.kill()
        self._finish(record)

    def _finish(self, record: SidecarProcess) -> None:
        """Record the exit of a reaped process; kill what is left of its group."""
        with self._lock:
            if not record.running:
                return
            record.process.stop()
            record.exit_code = record.process.popen.returncode
            record.stopped_at = dt.datetime.now(dt.UTC)
        shutil.rmtree(record.credentials, ignore_errors=True)
        log.info("sidecar exited", extra={"pod": record.pod, "exit_code": record.exit_code})

    def _drain(self) -> None:
        """SIGTERM every sidecar still running; SIGKILL those that outlive their grace period."""
        now = time.monotonic()
        for record in self._running():
            self._begin_termination(record, None, now)
        for record in self._running():
            try:
                remaining = max(0.0, (record.kill_at or now) - time.monotonic())
                try:
                    record.process.popen.wait(remaining)
                except subprocess.TimeoutExpired:
                    record.process.kill()
                self._finish(record)
            except Exception:  # the other sidecars must still be stopped
                log.exception("stopping a sidecar failed", extra={"pod": record.pod})
