"""``spot-failover-sidecar``: read the settings, wire the adapters, run the loop until SIGTERM.

With ``--warden`` the same program runs as the warden instead (:mod:`sidecar.warden`): not in
an app's pod but in a Deployment of its own, off spot, ending the moves no sidecar can finish.

The signal sources are built here, in the order the loop polls them (:func:`_signal_sources`):
IMDS, Karpenter's record in the Node's Events, the Node. A new source is one module in
:mod:`sidecar.sources` and one entry there.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

import sidecar.lean  # noqa: F401  # first of the sidecar's: before anything imports requests
from sidecar.adapters.apiserver import ApiServer
from sidecar.adapters.credentials import InCluster
from sidecar.adapters.errors import NoCredentials
from sidecar.adapters.imds import ImdsClient
from sidecar.adapters.kube import Kube
from sidecar.core import node_signal
from sidecar.daemon import Daemon
from sidecar.events import Events
from sidecar.memory import Memory
from sidecar.metrics import Metrics
from sidecar.settings import Settings
from sidecar.shutdown import Shutdown
from sidecar.sources import SignalSource
from sidecar.sources import node as node_source
from sidecar.sources.imds import ImdsSource
from sidecar.sources.karpenter import KarpenterSource
from sidecar.sources.node import NodeSource
from spot_common import contract, logs

log = logging.getLogger("sidecar")
_Settings = TypeVar("_Settings", bound=BaseSettings)


def _now() -> datetime:
    return datetime.now(UTC)


class _Version(argparse.Action):
    """``--version``, whose lookup in the package's metadata runs only when asked: done at every
    start, it would leave about 0.6 MiB in an idle sidecar's memory."""

    def __init__(self, option_strings: Sequence[str], dest: str) -> None:
        help_ = "show program's version number and exit"
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help_)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"{parser.prog} {version('spot-failover')}")
        parser.exit()


def _settings_or_exit(
    kind: Callable[[], _Settings], prefix: str = contract.ENV_PREFIX
) -> _Settings:
    try:
        return kind()
    except ValidationError as error:
        for problem in error.errors():
            field = "_".join(str(part) for part in problem["loc"]).upper()
            print(f"spot-failover-sidecar: {prefix}{field}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _warden() -> int:
    # Imported here: a sidecar, whose memory every Fargate pod pays for, never loads it.
    from sidecar import warden, warden_settings  # noqa: PLC0415

    settings = _settings_or_exit(warden_settings.WardenSettings, "SPOT_FAILOVER_WARDEN_")
    # The moves' settings (SPOT_FAILOVER_*), checked before any move is led.
    _settings_or_exit(lambda: warden_settings.move_settings(settings.pod_name, "-", "-"))
    logs.configure(settings.log_level, program="spot-failover-warden", quiet=("urllib3",))
    log.info("starting the warden", extra={"settings": settings.model_dump(mode="json")})
    shutdown = Shutdown()
    shutdown.install()
    try:
        return warden.main(settings, shutdown)
    except NoCredentials as error:
        print(f"spot-failover-sidecar: {error}", file=sys.stderr)
        return 2
    finally:
        log.info("stopped", extra={"signal": shutdown.signal_name})


def _imds(
    settings: Settings, metrics: Metrics, on_unreachable: Callable[[str], None]
) -> ImdsSource | None:
    if not settings.imds_enabled or node_signal.fargate_by_name(settings.node_name):
        return None  # Fargate pods have no IMDS
    client = ImdsClient(
        settings.imds_url,
        timeout_s=settings.imds_timeout_s,
        retries=settings.imds_retries,
        token_ttl_s=settings.imds_token_ttl_s,
        allow_v1_fallback=settings.imds_allow_v1,
    )
    return ImdsSource(
        client,
        settings.node_name,
        metrics,
        on_unreachable=on_unreachable,
        # 0.8: a tick that wakes a little early must not skip its poll.
        min_interval=timedelta(seconds=0.8 * settings.poll_interval_s),
    )


def _node(settings: Settings, kube: Kube) -> NodeSource | None:
    if not settings.node_source or node_signal.fargate_by_name(settings.node_name):
        return None  # nothing reclaims a Fargate node as spot is
    return NodeSource(kube.fork(), settings.node_name, settings.node_taints())


def _karpenter(settings: Settings, kube: Kube, node: NodeSource | None) -> KarpenterSource | None:
    if node is None or not settings.node_events:
        return None  # its record is looked for only once the followed Node is being removed
    return KarpenterSource(
        kube.fork(), settings.node_name, disrupted=node.disrupted, node_uid=node.uid
    )


def _signal_sources(*sources: SignalSource | None) -> list[SignalSource]:
    """The sources that are on, in the order the loop polls them."""
    return [source for source in sources if source is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spot-failover-sidecar", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run one tick and exit (for tests)")
    parser.add_argument(
        "--warden",
        action="store_true",
        help="run as the warden: end the moves that no sidecar is left to finish",
    )
    parser.add_argument("--version", action=_Version)
    args = parser.parse_args(argv)
    if args.warden:
        return _warden()
    settings = _settings_or_exit(Settings)
    logs.configure(settings.log_level, program="spot-failover-sidecar", quiet=("urllib3",))
    log.info("starting", extra={"settings": settings.model_dump(mode="json")})

    try:
        credentials = InCluster.from_pod(os.environ, settings.api_credentials_dir)
    except NoCredentials as error:
        print(f"spot-failover-sidecar: {error}", file=sys.stderr)
        return 2
    metrics = Metrics()
    metrics.serve(settings.metrics_port)
    api = ApiServer(credentials, on_request=lambda verb: metrics.api_requests.labels(verb).inc())
    kube = Kube(api, settings.namespace, settings.deployment)
    shutdown = Shutdown()
    shutdown.install()

    memory = Memory()
    events = Events(kube, settings, _now, memory)
    node = _node(settings, kube)
    sources = _signal_sources(
        _imds(settings, metrics, events.imds_unreachable), _karpenter(settings, kube, node), node
    )
    daemon = Daemon(
        settings,
        kube,
        _now,
        metrics,
        sources=sources,
        on_fargate=node_source.on_fargate(node, settings.node_name),
        memory=memory,
        events=events,
        shutdown=shutdown,
    )
    log.info("signal sources", extra={"sources": [source.kind for source in sources]})
    try:
        with contextlib.ExitStack() as running:
            for source in sources:  # those with a watch of their own start it
                if isinstance(source, contextlib.AbstractContextManager):
                    running.enter_context(source)
            return daemon.run(once=args.once)
    finally:
        log.info("stopped", extra={"signal": shutdown.signal_name})


if __name__ == "__main__":
    sys.exit(main())
