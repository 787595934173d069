"""``spot-failover-webhook``: serve admission reviews and provision sidecar RBAC (``serve``, the
default), or make the webhook's certificates once (``bootstrap-certs``, run by a Job)."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import os
import sys
from importlib.metadata import version
from pathlib import Path

from pydantic import ValidationError

from spot_common import logs
from spot_common.api_errors import ApiError
from webhook.adapters.kube import load_api_client
from webhook.app import Webhook
from webhook.app import serve as serve_webhook
from webhook.bootstrap import Names, bootstrap
from webhook.core.errors import CertificateError
from webhook.settings import Settings, env_name

PROGRAM = "spot-failover-webhook"
QUIET = ("kopf.objects", "kopf.activities", "aiohttp.access", "kubernetes", "urllib3")
"""Loggers held at WARNING: kopf logs every handler call at INFO (one line per pod and per
ReplicaSet change), the clients every request, so that INFO means "something worth reading"."""
PACKAGE = "spot-failover"
log = logging.getLogger("webhook")


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            field = "_".join(str(part) for part in problem["loc"])
            print(f"{PROGRAM}: {env_name(field)}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def serve() -> int:
    settings = _settings_or_exit()
    logs.configure(settings.log_level, program=PROGRAM, quiet=QUIET)
    log.info("starting", extra={"settings": settings.printable()})
    try:
        webhook = Webhook(settings, load_api_client(settings.kubeconfig))
    except CertificateError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2
    _freeze_startup_objects()
    serve_webhook(webhook)
    return 0


def _freeze_startup_objects() -> None:
    """Keep the collector's full passes off everything that lives as long as the process.

    The modules (kopf, aiohttp, the ``kubernetes`` client with its thousands of model classes)
    never die, yet without this every full collection walks them all, holding up every admission
    review in flight (BENCHMARKS.md, Admission, has what that cost). Frozen, a full pass walks
    only what was allocated since.
    """
    gc.collect()
    gc.freeze()


def bootstrap_certs(args: argparse.Namespace) -> int:
    logs.configure("INFO", program=PROGRAM, quiet=QUIET)
    names = Names(
        namespace=args.namespace,
        service=args.service,
        ca_secret=args.ca_secret,
        tls_secret=args.tls_secret,
        webhook_configuration=args.webhook_configuration,
    )
    api = load_api_client(args.kubeconfig)
    try:
        changes = bootstrap(api, names, dt.datetime.now(dt.UTC))
    except ApiError as error:
        log.error("certificate bootstrap failed", extra={"error": str(error)})
        return 1
    finally:
        api.close()
    log.info("certificates are in place", extra={"changes": changes})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version(PACKAGE)}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "serve", help="run the webhook (the default); settings from the environment"
    )
    certs = commands.add_parser(
        "bootstrap-certs",
        help="create or renew the CA and serving certificate Secrets and the caBundle",
    )
    defaults = Names()
    certs.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", defaults.namespace))
    certs.add_argument("--service", default=defaults.service)
    certs.add_argument("--ca-secret", default=defaults.ca_secret)
    certs.add_argument("--tls-secret", default=defaults.tls_secret)
    certs.add_argument("--webhook-configuration", default=defaults.webhook_configuration)
    certs.add_argument("--kubeconfig", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "bootstrap-certs":
        return bootstrap_certs(args)
    return serve()


if __name__ == "__main__":
    sys.exit(main())
