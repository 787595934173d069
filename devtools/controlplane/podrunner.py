"""Run each pod's sidecar as a local process: the harness's kubelet, for sidecars only.

kwok fakes kubelets: pods become Running and Ready, but no container runs. The sidecar does its
whole job from inside a pod (it watches its node, holds a Lease, patches its Deployment), so the
harness runs it for every pod that carries it, as a kubelet would:

* one process per scheduled pod that has the sidecar container, either native (an init
  container with ``restartPolicy: Always``) or a regular container, started from exactly the
  container spec the webhook injected: ``command`` and ``args``, else ``program``, and the
  environment a kubelet would give it (:mod:`devtools.controlplane.podspec`);
* authenticated as the pod's ServiceAccount with a token bound to the pod (TokenRequest API),
  in the files of the ServiceAccount volume a kubelet would mount (``token``, ``ca.crt``,
  ``namespace``), with the ``KUBERNETES_SERVICE_HOST``/``PORT`` a kubelet sets, so RBAC and
  anything keyed on the pod-name claim are exercised for real. The token is renewed at 80 % of
  its life by replacing the file, as a kubelet rewrites the projected token;
* stopped as a kubelet stops a container of a deleted pod: SIGTERM, then SIGKILL after the
  pod's grace period (capped). kwok removes deleted pods at once, so "gone" counts as "deleting".

Stand-ins, where one machine differs from a node:

* IMDS is link-local per node on EC2; here ``node_env(node)`` gives each pod the environment
  overrides of its node, typically the URL of the IMDS simulator that plays that node.
* Pods have their own network namespaces, local processes share one: a non-zero
  ``SPOT_FAILOVER_METRICS_PORT`` is replaced by a free port, recorded per pod
  (:meth:`PodRunner.metrics_port`).
* Volumes are not mounted, so the ServiceAccount volume lives in a directory of its own per
  pod, and the sidecar is told where (``SPOT_FAILOVER_API_CREDENTIALS_DIR``, which in a pod
  keeps its default, the standard mount path the webhook uses).
* There is no image: ``program`` stands for the image's ENTRYPOINT (images here have no CMD),
  and the base environment is the harness's PATH, HOME, LANG and Python variables, so the
  project's Python runs. ``workingDir``, volumes and the security context are not applied.
* There are no restarts: a sidecar that exits stays exited with its exit code recorded, so a
  crash shows in a test instead of hiding in a restart loop. :meth:`PodRunner.kill` and
  :meth:`PodRunner.kill_node` play a node vanishing, whose kubelet restarts nothing either.

Two threads: :class:`PodWatch` lists and watches the namespace's pods, reconnecting with backoff
across watch expiry, 410 Gone and API server restarts; the supervisor starts, stops and reaps
the processes. Only the supervisor starts processes, because each child dies with the thread
that started it (parent-death signal): that thread lives until every child is stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.podspec import (
    GRACE_CAP_S,
    Container,
    EnvNotReady,
    Pod,
    Program,
    Sources,
    container_argv,
    container_env,
    grace_period_s,
    remap_metrics_port,
    sidecar_container,
)
from devtools.controlplane.processes import ManagedProcess, free_port
from devtools.controlplane.tokens import pod_bound_token
from devtools.controlplane.waiting import wait_for
from spot_common import contract

log = logging.getLogger(__name__)

TOKEN_EXPIRATION_S = 3600
WATCH_TIMEOUT_S = 240
"""Server-side timeout of one watch request; the watch then resumes from its last version."""
_TICK_S = 0.1
_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def base_env() -> dict[str, str]:
    """What the image would provide: the harness's paths and locale, so its Python runs."""
    env = {name: os.environ[name] for name in _PASSTHROUGH_ENV if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUNBUFFERED"] = "1"  # as Python images set it: logs show lines as written
    return env


# --- What one process is and was ------------------------------------------------------------


@dataclass
class SidecarProcess:
    """One pod's sidecar process and what happened to it (times are UTC)."""

    pod: str
    uid: str
    node: str
    process: ManagedProcess
    credentials: Path
    """The directory standing in for the pod's ServiceAccount volume."""
    metrics_port: int | None
    grace_s: float
    started_at: dt.datetime
    refresh_at: float
    """Monotonic time of the next token renewal."""
    stopped_at: dt.datetime | None = None
    exit_code: int | None = None
    """``Popen.returncode``: negative for a signal, e.g. -9 after :meth:`PodRunner.kill`."""
    kill_at: float | None = None
    """Monotonic deadline for SIGKILL, once SIGTERM was sent."""

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @property
    def running(self) -> bool:
        return self.stopped_at is None


class _AdminSources:
    """What a kubelet reads for a container's environment, read here as the admin."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self._core = core

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        found = _read_or_none(lambda: self._core.read_namespaced_secret(name, namespace))
        return None if found is None else dict(found.data or {})

    def config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        found = _read_or_none(lambda: self._core.read_namespaced_config_map(name, namespace))
        return None if found is None else dict(found.data or {})

    def node_allocatable(self, node: str) -> Mapping[str, str]:
        return dict(self._core.read_node(node).status.allocatable or {})


def _read_or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _describe(error: BaseException) -> str:
    """One short line for a log field; API errors without their headers and body."""
    if isinstance(error, ApiException):
        return f"API error {error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"[:300]


def _exit_code(record: SidecarProcess) -> int:
    if record.exit_code is None:
        raise RuntimeError(f"the sidecar of {record.pod} has not exited")
    return record.exit_code


def _retry_delay(failures: int) -> float:
    """Like the kubelet's back-off for a container that cannot start, on a test's time scale."""
    return float(min(0.25 * 2**failures, 5.0))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- The pod watch ---------------------------------------------------------------------------


class PodWatch:
    """The pods of one namespace as JSON dicts, kept current by list-then-watch in a thread."""

    def __init__(
        self, api: client.ApiClient, namespace: str, on_change: Callable[[], None]
    ) -> None:
        self._core = client.CoreV1Api(api)
        self._namespace = namespace
        self._on_change = on_change
        self._pods: dict[str, Pod] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._response: Any = None
        self.synced = threading.Event()
        """Set once the first list has landed."""
        self._thread = threading.Thread(
            target=self._run, name=f"pod-watch-{namespace}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the watch now, even mid-read, and join the thread."""
        self._stopping.set()
        with self._lock:
            if self._response is not None:
                with contextlib.suppress(Exception):
                    self._response.shutdown()
        if self._thread.ident is not None:
            self._thread.join()

    def snapshot(self) -> dict[str, Pod]:
        with self._lock:
            return dict(self._pods)

    def _run(self) -> None:
        delay = _Backoff()
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._relist()
                    delay.reset()
                version = self._follow(version)
            except Exception as error:  # one failed request must not end the watch
                if self._stopping.is_set():
                    return
                log.warning(
                    "pod watch interrupted; relisting",
                    extra={"namespace": self._namespace, "error": _describe(error)},
                )
                version = None
                self._stopping.wait(delay.next())

    def _relist(self) -> str:
        response = self._core.list_namespaced_pod(
            self._namespace, _preload_content=False, _request_timeout=(5, 30)
        )
        try:
            body = json.loads(response.data)
        finally:
            response.release_conn()
        with self._lock:
            self._pods = {pod["metadata"]["name"]: pod for pod in body["items"]}
        self.synced.set()
        self._on_change()
        return str(body["metadata"]["resourceVersion"])

    def _follow(self, version: str) -> str | None:
        """Apply watch events from ``version`` on; the version to resume from, or ``None``
        when it expired (410 Gone) and only a relist can catch up."""
        response = self._core.list_namespaced_pod(
            self._namespace,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_TIMEOUT_S,
            _preload_content=False,
            _request_timeout=(5, WATCH_TIMEOUT_S + 30),
        )
        with self._lock:
            self._response = response
        try:
            current: str | None = version
            for line in _lines(response, self._stopping):
                current = self._apply(json.loads(line))
                if current is None:
                    break
            return current
        finally:
            with self._lock:
                self._response = None
            response.close()
            response.release_conn()

    def _apply(self, event: Mapping[str, Any]) -> str | None:
        kind, pod = event["type"], event["object"]
        if kind == "ERROR":
            if pod.get("code") == 410:
                return None
            raise RuntimeError(f"watch error {pod.get('code')}: {pod.get('message')}")
        if kind != "BOOKMARK":
            with self._lock:
                if kind == "DELETED":
                    self._pods.pop(pod["metadata"]["name"], None)
                else:
                    self._pods[pod["metadata"]["name"]] = pod
            self._on_change()
        return str(pod["metadata"]["resourceVersion"])


def _lines(response: Any, stopping: threading.Event) -> Iterator[bytes]:
    """The newline-delimited events of a watch response, as they arrive."""
    if stopping.is_set():  # stop() came before the response was registered
        return
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())


class _Backoff:
    """Doubling delays for reconnects, capped: a restarted local API server is back in seconds."""

    def __init__(self, first_s: float = 0.25, cap_s: float = 2.0) -> None:
        self._first_s, self._cap_s = first_s, cap_s
        self._next_s = first_s

    def next(self) -> float:
        delay, self._next_s = self._next_s, min(self._next_s * 2, self._cap_s)
        return delay

    def reset(self) -> None:
        self._next_s = self._first_s


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
        self._cluster, self._kube, self._namespace = cluster, kube, namespace
        self._program, self._node_env = program, node_env
        self._log_dir, self._credentials_dir = log_dir, log_dir / "credentials"
        self._container_name, self._grace_cap_s = container_name, grace_cap_s
        self._token_expiration_s = token_expiration_s
        self._token_refresh_s = token_refresh_s or 0.8 * token_expiration_s
        self._sources: Sources = _AdminSources(kube.core)
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
        self._credentials_dir.mkdir(parents=True, exist_ok=True)
        self._credentials_dir.chmod(0o700)
        self._supervisor.start()
        self._watch.start()
        if not self._watch.synced.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"no list of the pods of {self._namespace} in {timeout_s:.0f}s")

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
            record = self._launch(pod, container, now)
        except Exception as error:  # a pod that cannot start must not stop the others
            failures = self._retries.get(uid, (0, 0.0))[0] + 1
            delay = 0.2 if isinstance(error, EnvNotReady) else _retry_delay(failures)
            self._retries[uid] = (failures, now + delay)
            level = logging.DEBUG if isinstance(error, EnvNotReady) else logging.WARNING
            log.log(
                level,
                "sidecar not started; retrying",
                extra={"pod": pod["metadata"]["name"], "error": _describe(error), "in_s": delay},
            )
            return
        self._retries.pop(uid, None)
        with self._lock:
            self._records[record.pod] = record

    def _launch(self, pod: Pod, container: Container, now: float) -> SidecarProcess:
        name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
        from_spec = container_env(pod, container, self._sources)
        argv = container_argv(container, from_spec, self._program)
        credentials = self._write_credentials(pod)
        env, metrics_port = remap_metrics_port(
            {
                **base_env(),
                **from_spec,
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(self._cluster.apiserver_port),
                contract.ENV_API_CREDENTIALS_DIR: str(credentials),
                **(self._node_env(node) if self._node_env else {}),
            },
            free_port,
        )
        process = ManagedProcess(name, argv, self._log_dir, env=env)
        log.info("sidecar started", extra={"pod": name, "node": node, "pid": process.pid})
        return SidecarProcess(
            pod=name,
            uid=pod["metadata"]["uid"],
            node=node,
            process=process,
            credentials=credentials,
            metrics_port=metrics_port,
            grace_s=grace_period_s(pod, self._grace_cap_s),
            started_at=_utcnow(),
            refresh_at=now + self._token_refresh_s,
        )

    def _write_credentials(self, pod: Pod) -> Path:
        """The pod's ServiceAccount volume with a fresh token bound to ``pod``; the token file
        is replaced whole, so a reader sees the old token or the new one, never half of one."""
        name = pod["metadata"]["name"]
        account = pod["spec"].get("serviceAccountName") or "default"
        token = pod_bound_token(
            self._kube.api, self._namespace, account, name, self._token_expiration_s
        )
        directory: Path = self._credentials_dir / str(name)
        directory.mkdir(mode=0o700, exist_ok=True)
        for file, content in (
            ("ca.crt", self._cluster.ca_cert.read_text()),
            ("namespace", self._namespace),
            ("token", token),
        ):
            staging = directory / f".{file}.new"
            staging.write_text(content)
            staging.chmod(0o600)
            staging.replace(directory / file)
        return directory

    def _refresh_token(self, record: SidecarProcess, pod: Pod, now: float) -> None:
        try:
            self._write_credentials(pod)
        except Exception as error:  # the old token is still valid for a while
            record.refresh_at = now + 5.0
            log.warning(
                "token renewal failed; retrying",
                extra={"pod": record.pod, "error": _describe(error)},
            )
            return
        record.refresh_at = now + self._token_refresh_s

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
            record.stopped_at = _utcnow()
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
