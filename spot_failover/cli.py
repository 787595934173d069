"""``spot-failover status``, ``explain NAME`` and ``check``: arguments, output, exit codes.

The flags are kubectl's (``--kubeconfig``, ``--context``, ``-n/--namespace``,
``-A/--all-namespaces``, ``-o/--output``, ``--request-timeout``) and may come before or after
the command, as with kubectl. Exit codes: 0 on success (also when nothing is opted in: then
"No resources found ..." goes to stderr, as ``kubectl get`` does), 1 when a request or the
configuration fails (kubectl's message on stderr), 2 on a usage error. ``check`` exits 1 also
when a check fails (warnings do not). Installed, the same command is the kubectl plugin
``kubectl spot-failover`` (the ``kubectl-spot_failover`` console script).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, TextIO

from sidecar.core.durations import Never, parse_duration
from sidecar.core.errors import InvalidValueError
from spot_failover import kube, render, status
from spot_failover.errors import CliError, UsageError

PROGRAM: Final = "spot-failover"
PLUGIN: Final = "kubectl spot-failover"
_DEPLOYMENT_PREFIXES: Final = ("deployment/", "deployments/", "deploy/", "deployments.apps/")


def build_parser(program: str = PROGRAM) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program,
        description="Show the spot-failover state of Deployments, read from their annotations.",
    )
    _add_connection_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status_command = commands.add_parser(
        "status", help="a table of the opted-in Deployments and their failover state"
    )
    _add_connection_flags(status_command, suppress=True)
    status_command.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=argparse.SUPPRESS,
        help="list Deployments in every namespace",
    )
    status_command.add_argument(
        "-o",
        "--output",
        choices=["json", "wide"],
        default=argparse.SUPPRESS,
        help="json: every field, for scripts; wide: more columns",
    )

    explain = commands.add_parser(
        "explain", help="one Deployment's failover state, problems and history"
    )
    _add_connection_flags(explain, suppress=True)
    explain.add_argument("name", metavar="NAME", help="the Deployment (also deployment/NAME)")
    explain.add_argument(
        "-o", "--output", choices=["json"], default=argparse.SUPPRESS, help="json: every field"
    )

    check = commands.add_parser(
        "check", help="is the install healthy, and can each opted-in Deployment be moved?"
    )
    _add_connection_flags(check, suppress=True)
    check.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=argparse.SUPPRESS,
        help="check opted-in Deployments in every namespace",
    )
    check.add_argument(
        "-o", "--output", choices=["json"], default=argparse.SUPPRESS, help="json: every result"
    )
    check.add_argument(
        "--webhook-configuration",
        default="spot-failover-webhook",
        help="the MutatingWebhookConfiguration to check (default: deploy/'s)",
    )
    check.add_argument(
        "--tls-secret",
        default="spot-failover-webhook-tls",
        help="the Secret holding the serving certificate, in the webhook's namespace",
    )
    return parser


def _add_connection_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The flags valid before and after the command; after it they only override."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--kubeconfig", default=default(None), help="path to the kubeconfig file to use"
    )
    parser.add_argument("--context", default=default(None), help="the kubeconfig context to use")
    parser.add_argument(
        "-n", "--namespace", default=default(None), help="the namespace (default: the context's)"
    )
    parser.add_argument(
        "--request-timeout",
        default=default("0"),
        help='how long to wait for one request, e.g. "30s", "2m"; "0" waits forever',
    )
    if not suppress:
        parser.set_defaults(all_namespaces=False, output=None)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    program: str = PROGRAM,
) -> int:
    """Run the command; returns the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser(program).parse_args(argv)  # exits 2 with the usage on a usage error
    try:
        timeout_s = request_timeout(args.request_timeout)
        connection = kube.connect(
            kubeconfig=args.kubeconfig,
            context=args.context,
            environ=os.environ if environ is None else environ,
        )
        try:
            if args.command == "status":
                return _status(args, connection, timeout_s=timeout_s, clock=clock, out=out, err=err)
            if args.command == "check":
                return _check(args, connection, timeout_s=timeout_s, clock=clock, out=out)
            return _explain(args, connection, timeout_s=timeout_s, clock=clock, out=out)
        finally:
            connection.close()
    except CliError as error:
        print(error, file=err)
        return error.exit_code


def _status(
    args: argparse.Namespace,
    connection: kube.Connection,
    *,
    timeout_s: float | None,
    clock: Callable[[], datetime],
    out: TextIO,
    err: TextIO,
) -> int:
    namespace = None if args.all_namespaces else (args.namespace or connection.namespace)
    listed = render.read_listed(kube.list_deployments(connection, namespace, timeout_s))
    now = clock()
    if args.output == "json":
        out.write(render.status_json(listed, now=now))
        return 0
    if not listed:
        where = "" if namespace is None else f" in {namespace} namespace."
        print(f"No resources found{where}", file=err)
        return 0
    out.write(
        render.table_of(
            listed, now=now, wide=args.output == "wide", all_namespaces=namespace is None
        )
    )
    return 0


def _explain(
    args: argparse.Namespace,
    connection: kube.Connection,
    *,
    timeout_s: float | None,
    clock: Callable[[], datetime],
    out: TextIO,
) -> int:
    name = deployment_name(args.name)
    namespace = args.namespace or connection.namespace
    deployment = status.read(kube.read_deployment(connection, namespace, name, timeout_s))
    now = clock()
    if args.output == "json":
        out.write(render.explain_json(deployment, now=now))
    else:
        out.write(render.explain_text(deployment, now=now))
    return 0


def _check(
    args: argparse.Namespace,
    connection: kube.Connection,
    *,
    timeout_s: float | None,
    clock: Callable[[], datetime],
    out: TextIO,
) -> int:
    # Imported here: the check's modules (cryptography, the webhook's rules) would slow every
    # status and explain.
    from spot_failover import check_run, checks  # noqa: PLC0415

    namespace = None if args.all_namespaces else (args.namespace or connection.namespace)
    results = check_run.run(
        connection,
        namespace,
        configuration_name=args.webhook_configuration,
        tls_secret=args.tls_secret,
        timeout_s=timeout_s,
        now=clock(),
    )
    out.write(checks.as_json(results) if args.output == "json" else checks.text(results))
    return 1 if checks.failed(results) else 0


def deployment_name(argument: str) -> str:
    """``NAME`` or ``deployment/NAME`` (kubectl's TYPE/NAME) to ``NAME``."""
    for prefix in _DEPLOYMENT_PREFIXES:
        if argument.startswith(prefix):
            argument = argument.removeprefix(prefix)
            break
    if not argument or "/" in argument:
        raise UsageError(f"{argument!r} is not a Deployment name (NAME or deployment/NAME)")
    return argument


def request_timeout(text: str) -> float | None:
    """kubectl's ``--request-timeout``: ``"0"`` is no timeout, else a positive duration."""
    try:
        duration = parse_duration(text, source="--request-timeout")
    except InvalidValueError as error:
        raise UsageError(str(error)) from error
    if isinstance(duration, Never):
        raise UsageError('--request-timeout cannot be "never"; "0" waits forever')
    if duration == timedelta(0):
        return None
    return duration.total_seconds()
