"""The command's only contact with Kubernetes: find the configuration, read Deployments.

It follows kubectl's rules, so the command works wherever kubectl does:

* configuration: ``--kubeconfig`` (the file must exist), else ``$KUBECONFIG`` (a list of files;
  missing ones are skipped, the rest merged), else ``~/.kube/config``; with none of them, the
  in-cluster ServiceAccount when running in a pod;
* ``--context`` picks a context (an unknown one is an error), else the current context;
* the namespace is ``-n``, else the context's namespace (in a pod: the pod's), else
  ``default``;
* lists are read in pages of 500, as ``kubectl get`` does.

Deployments come back as plain JSON dicts, exactly as the API sent them; the pure modules take
it from there. Every client exception becomes one of :mod:`spot_failover.errors` here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigMerger

from spot_failover.errors import (
    CliError,
    ConfigError,
    ConnectError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    UnauthorizedError,
)

PAGE_SIZE: Final = 500
"""kubectl's ``--chunk-size`` default."""
IN_CLUSTER_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_NAMESPACE: Final = "default"


@dataclasses.dataclass(frozen=True)
class Connection:
    """An API client and the namespace the configuration chose."""

    api: client.ApiClient
    namespace: str
    server: str

    def close(self) -> None:
        self.api.close()


def kubeconfig_files(flag: str | None, environ: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files to merge, by kubectl's precedence; ``[]``: none (in-cluster?)."""
    if flag:
        path = Path(flag).expanduser()
        if not path.is_file():
            raise ConfigError(f"stat {flag}: no such file or directory")
        return [path]
    listed = environ.get("KUBECONFIG")
    if listed:
        paths = [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    else:
        paths = [Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"]
    return [p for p in dict.fromkeys(paths) if p.is_file()]


def connect(
    *, kubeconfig: str | None, context: str | None, environ: Mapping[str, str]
) -> Connection:
    """A client for the configured cluster; :class:`ConfigError` if there is none."""
    files = kubeconfig_files(kubeconfig, environ)
    if files:
        return _from_kubeconfig(files, context)
    if environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT"):
        if context:
            raise ConfigError(f'context "{context}" does not exist')
        return _in_cluster()
    raise ConfigError(
        "no configuration has been provided: set --kubeconfig or KUBECONFIG, "
        "or write ~/.kube/config"
    )


def _from_kubeconfig(files: list[Path], context: str | None) -> Connection:
    joined = os.pathsep.join(str(p) for p in files)
    try:
        merger = KubeConfigMerger(joined)
        documents = [merger.config_files[path] for path in merger.paths]
        chosen = _choose_context(documents, context)
        configuration = client.Configuration()
        config.load_kube_config(
            config_file=joined,
            context=chosen["name"],
            client_configuration=configuration,
            persist_config=False,
        )
    except ConfigException as error:
        raise ConfigError(f"invalid configuration: {error}") from error
    except (OSError, ValueError, yaml.YAMLError) as error:  # unreadable, or not a kubeconfig
        problem = " ".join(str(error).split())  # YAML errors span lines
        raise ConfigError(f"cannot load kubeconfig {joined}: {problem}") from error
    namespace = (chosen.get("context") or {}).get("namespace") or DEFAULT_NAMESPACE
    return _connection(configuration, str(namespace))


def _choose_context(documents: list[Any], wanted: str | None) -> dict[str, Any]:
    """The context named ``wanted``, else the current one; across merged files, as kubectl
    merges them, the first file that sets current-context and the first context of a name win."""
    kubeconfigs = [d for d in documents if isinstance(d, dict)]
    name = wanted or next(
        (d["current-context"] for d in kubeconfigs if d.get("current-context")), None
    )
    if not name:
        raise ConfigError("current-context is not set: pass --context")
    for document in kubeconfigs:
        for candidate in document.get("contexts") or []:
            if isinstance(candidate, dict) and candidate.get("name") == name:
                return candidate
    raise ConfigError(f'context "{name}" does not exist')


def _in_cluster() -> Connection:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
        namespace = IN_CLUSTER_NAMESPACE.read_text().strip() or DEFAULT_NAMESPACE
    except (ConfigException, OSError) as error:
        raise ConfigError(f"in-cluster configuration: {error}") from error
    return _connection(configuration, namespace)


def _connection(configuration: client.Configuration, namespace: str) -> Connection:
    # One try per request, as kubectl: a person waits, and --request-timeout means one wait.
    configuration.retries = 0
    return Connection(client.ApiClient(configuration), namespace, configuration.host)


# --- reads ----------------------------------------------------------------------------------


def list_deployments(
    connection: Connection, namespace: str | None, timeout_s: float | None
) -> list[dict[str, Any]]:
    """Every Deployment in ``namespace`` (all namespaces if ``None``), page by page."""
    apps = client.AppsV1Api(connection.api)
    return list(_pages(connection, apps, namespace, timeout_s))


def _pages(
    connection: Connection, apps: client.AppsV1Api, namespace: str | None, timeout_s: float | None
) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        options: dict[str, Any] = {
            "limit": PAGE_SIZE,
            "_request_timeout": timeout_s,
            "_preload_content": False,
        }
        if token:
            options["_continue"] = token
        if namespace is None:
            request = functools.partial(apps.list_deployment_for_all_namespaces, **options)
        else:
            request = functools.partial(apps.list_namespaced_deployment, namespace, **options)
        page = _call(connection, request)
        items = page.get("items") or []
        yield from (item for item in items if isinstance(item, dict))
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def read_deployment(
    connection: Connection, namespace: str, name: str, timeout_s: float | None
) -> dict[str, Any]:
    """The Deployment ``namespace/name``; :class:`NotFoundError` if there is none."""
    apps = client.AppsV1Api(connection.api)
    return _call(
        connection,
        lambda: apps.read_namespaced_deployment(
            name, namespace, _request_timeout=timeout_s, _preload_content=False
        ),
    )


def _call(connection: Connection, request: Callable[[], Any]) -> dict[str, Any]:
    """The JSON body of ``request`` (made with ``_preload_content=False``); client exceptions
    become :class:`~spot_failover.errors.CliError`."""
    try:
        body = json.loads(request().data)
    except (ApiException, urllib3.exceptions.HTTPError) as error:
        raise translate(error, connection.server) from error
    except ValueError as error:
        raise ServerError(0, "", f"the server sent a body that is not JSON ({error})") from error
    if not isinstance(body, dict):
        raise ServerError(0, "", "the server sent a body that is not a JSON object")
    return body


def translate(error: Exception, server: str) -> CliError:
    """The kubectl-style error for a client exception."""
    if isinstance(error, ApiException):
        return _server_error(error)
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    if isinstance(error, urllib3.exceptions.NewConnectionError) and "refused" in str(error):
        return ConnectError.refused(urllib.parse.urlsplit(server).netloc or server)
    if isinstance(error, urllib3.exceptions.TimeoutError):
        host = urllib.parse.urlsplit(server).netloc or server
        return ConnectError.unable(f"no answer from {host} within the request timeout")
    return ConnectError.unable(str(error))


def _server_error(error: ApiException) -> CliError:
    status = int(error.status or 0)
    if status == 0:  # the client's own failure before any answer, e.g. TLS
        return ConnectError.unable(str(error.reason))
    body = _status_body(error.body)
    reason = str(body.get("reason") or error.reason or "")
    message = str(body.get("message") or f"the server answered {status} {error.reason or ''}")
    kinds: dict[int, type[ServerError]] = {
        401: UnauthorizedError,
        403: ForbiddenError,
        404: NotFoundError,
    }
    return kinds.get(status, ServerError)(status, reason, _clip(message))


def _status_body(body: object) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        return {"message": _clip(body)}
    return document if isinstance(document, dict) else {}


def _clip(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
