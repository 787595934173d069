"""``spot-failover-sidecar``: read the settings, wire the adapters, run the loop until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

from pydantic import ValidationError

from sidecar.adapters.apiserver import ApiServer
from sidecar.adapters.credentials import InCluster
from sidecar.adapters.errors import NoCredentials
from sidecar.adapters.imds import ImdsClient
from sidecar.adapters.kube import Kube
from sidecar.core import node_signal
from sidecar.daemon import Daemon
from sidecar.imds_source import ImdsSource
from sidecar.metrics import Metrics
from sidecar.node_source import NodeSource
from sidecar.settings import Settings
from sidecar.shutdown import Shutdown
from spot_common import logs

log = logging.getLogger("sidecar")

NODE_SOURCE_READY_S = 5.0
"""How long start-up waits for the first read of the Node (to know whether it is Fargate)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            field = "_".join(str(part) for part in problem["loc"]).upper()
            print(
                f"spot-failover-sidecar: SPOT_FAILOVER_{field}: {problem['msg']}", file=sys.stderr
            )
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spot-failover-sidecar", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run one tick and exit (for tests)")
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('spot-failover')}"
    )
    args = parser.parse_args(argv)
    settings = _settings_or_exit()
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
    on_fargate = node_signal.fargate_by_name(settings.node_name)
    nodes = (
        NodeSource(kube.fork(), settings.node_name, settings.node_interruption_taints)
        if settings.node_source and not on_fargate
        else None
    )
    shutdown = Shutdown()
    shutdown.install()

    daemon_ref: list[Daemon] = []
    imds = None
    if settings.imds_enabled and not on_fargate:  # Fargate pods have no IMDS
        client = ImdsClient(
            settings.imds_url,
            timeout_s=settings.imds_timeout_s,
            retries=settings.imds_retries,
            token_ttl_s=settings.imds_token_ttl_s,
            allow_v1_fallback=settings.imds_allow_v1,
        )
        imds = ImdsSource(
            client,
            settings.node_name,
            metrics,
            on_unreachable=lambda message: daemon_ref[0].report_imds_unreachable(message),  # noqa: PLW0108 - the daemon does not exist yet
            # 0.8: a tick that wakes a little early must not skip its poll.
            min_interval=timedelta(seconds=0.8 * settings.poll_interval_s),
        )
    daemon = Daemon(settings, kube, _now, metrics, imds=imds, nodes=nodes, shutdown=shutdown)
    daemon_ref.append(daemon)
    if nodes is not None:
        nodes.start()
        nodes.wait_ready(NODE_SOURCE_READY_S)
    try:
        return daemon.run(once=args.once)
    finally:
        if nodes is not None:
            nodes.stop()
        log.info("stopped", extra={"signal": shutdown.signal_name})


if __name__ == "__main__":
    sys.exit(main())
