"""Configuration and errors as kubectl has them, without a cluster: which kubeconfig, which
context and namespace, and the message and exit code of each kind of failure."""

from __future__ import annotations

import io
import json
import socket
import time
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane.processes import free_port
from spot_failover import cli, kube
from spot_failover.errors import (
    ConfigError,
    ConnectError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    UnauthorizedError,
)


def kubeconfig(path: Path, contexts: dict[str, str | None], current: str | None) -> Path:
    """A kubeconfig with one context per entry (name → default namespace), all one server."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": "c", "user": "u"} | ({"namespace": ns} if ns else {}),
            }
            for name, ns in contexts.items()
        ],
    }
    if current:
        document["current-context"] = current
    path.write_text(json.dumps(document))
    return path


def run(*argv: str, environ: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), environ=environ, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# --- which kubeconfig -------------------------------------------------------------------------


def test_the_kubeconfig_flag_wins_over_the_environment(tmp_path: Path) -> None:
    flag = kubeconfig(tmp_path / "flag", {"a": None}, "a")
    env = kubeconfig(tmp_path / "env", {"b": None}, "b")

    files = kube.kubeconfig_files(str(flag), {"KUBECONFIG": str(env), "HOME": str(tmp_path)})

    assert files == [flag]


def test_a_kubeconfig_flag_naming_no_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        kube.kubeconfig_files(str(tmp_path / "missing"), {})


def test_kubeconfig_lists_files_and_skips_the_missing_ones_as_kubectl_does(tmp_path: Path) -> None:
    one = kubeconfig(tmp_path / "one", {"a": None}, "a")
    two = kubeconfig(tmp_path / "two", {"b": None}, None)
    listed = f"{one}:{tmp_path / 'missing'}:{two}"

    assert kube.kubeconfig_files(None, {"KUBECONFIG": listed}) == [one, two]


def test_without_flag_or_variable_the_home_kubeconfig_is_used(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    home = kubeconfig(tmp_path / ".kube" / "config", {"a": None}, "a")

    assert kube.kubeconfig_files(None, {"HOME": str(tmp_path)}) == [home]


def test_with_no_kubeconfig_and_no_pod_there_is_no_configuration(tmp_path: Path) -> None:
    code, out, err = run("status", environ={"HOME": str(tmp_path)})

    assert (code, out) == (1, "")
    assert err.startswith("error: no configuration has been provided")


# --- which context and namespace --------------------------------------------------------------


def test_the_current_context_gives_the_namespace(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": "team-a", "b": "team-b"}, "a")

    connection = kube.connect(kubeconfig=str(path), context=None, environ={})

    assert connection.namespace == "team-a"
    connection.close()


def test_the_context_flag_picks_another_context_and_its_namespace(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": "team-a", "b": "team-b"}, "a")

    connection = kube.connect(kubeconfig=str(path), context="b", environ={})

    assert connection.namespace == "team-b"
    connection.close()


def test_a_context_without_a_namespace_uses_default(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": None}, "a")

    connection = kube.connect(kubeconfig=str(path), context=None, environ={})

    assert connection.namespace == "default"
    connection.close()


def test_an_unknown_context_is_an_error_in_kubectl_words(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": None}, "a")

    code, _, err = run("--kubeconfig", str(path), "--context", "nope", "status", environ={})

    assert (code, err) == (1, 'error: context "nope" does not exist\n')


def test_a_kubeconfig_without_current_context_asks_for_one(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": None}, None)

    with pytest.raises(ConfigError, match="current-context is not set"):
        kube.connect(kubeconfig=str(path), context=None, environ={})


def test_a_file_that_is_not_a_kubeconfig_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text("just: [text")

    code, _, err = run("status", "--kubeconfig", str(path), environ={})

    assert code == 1
    assert err.startswith(f"error: cannot load kubeconfig {path}: while parsing a flow sequence")
    assert err.count("\n") == 1


# --- failures and exit codes ------------------------------------------------------------------


def test_a_server_that_refuses_the_connection_gets_kubectls_message(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": None}, "a")
    server = json.loads(path.read_text())["clusters"][0]["cluster"]["server"]
    host = server.removeprefix("https://")

    code, out, err = run("status", "--kubeconfig", str(path), environ={})

    assert (code, out) == (1, "")
    assert err == (
        f"The connection to the server {host} was refused - did you specify the right host or "
        "port?\n"
    )


def test_a_server_that_never_answers_fails_after_the_request_timeout(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": None}, "a")
    document = json.loads(path.read_text())
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        document["clusters"][0]["cluster"]["server"] = f"https://{host}"
        path.write_text(json.dumps(document))
        started = time.monotonic()

        code, out, err = run(
            "status", "--kubeconfig", str(path), "--request-timeout", "1s", environ={}
        )

    assert (code, out) == (1, "")
    assert (
        err
        == f"Unable to connect to the server: no answer from {host} within the request timeout\n"
    )
    assert time.monotonic() - started < 3  # one try of 1 s; with retries it would take 4 s


def api_error(status: int, reason: str, body: object) -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error


@pytest.mark.parametrize(
    ("status", "kind", "line"),
    [
        (404, NotFoundError, 'Error from server (NotFound): deployments.apps "web" not found'),
        (403, ForbiddenError, "Error from server (Forbidden): deployments.apps is forbidden"),
        (401, UnauthorizedError, "error: You must be logged in to the server (Unauthorized)"),
        (500, ServerError, "Error from server (InternalError): etcd is sad"),
    ],
)
def test_an_error_status_becomes_kubectls_line(
    status: int, kind: type[ServerError], line: str
) -> None:
    reasons = {404: "NotFound", 403: "Forbidden", 401: "Unauthorized", 500: "InternalError"}
    messages = {
        404: 'deployments.apps "web" not found',
        403: "deployments.apps is forbidden",
        401: "Unauthorized",
        500: "etcd is sad",
    }
    body = {"kind": "Status", "reason": reasons[status], "message": messages[status]}

    error = kube.translate(api_error(status, "whatever", body), "https://127.0.0.1:6443")

    assert type(error) is kind
    assert str(error) == line


def test_an_error_without_a_status_body_still_says_what_the_server_answered() -> None:
    error = kube.translate(api_error(502, "Bad Gateway", b"<html>proxy</html>"), "https://x")

    assert str(error) == "Error from server (Bad Gateway): <html>proxy</html>"


def test_a_failure_before_any_answer_is_a_connection_error() -> None:
    error = kube.translate(ApiException(status=0, reason="SSLError: bad cert"), "https://x")

    assert isinstance(error, ConnectError)
    assert str(error) == "Unable to connect to the server: SSLError: bad cert"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["explain", "pods/web"], "'pods/web' is not a Deployment name"),
        (["status", "--request-timeout", "soon"], "--request-timeout='soon' is invalid"),
        (["status", "--request-timeout", "never"], '--request-timeout cannot be "never"'),
    ],
)
def test_a_usage_error_exits_2_with_a_message(argv: list[str], says: str, tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"a": None}, "a")

    code, out, err = run(*argv, "--kubeconfig", str(path), environ={})

    assert (code, out) == (2, "")
    assert says in err


@pytest.mark.parametrize(
    "argv",
    [[], ["status", "-o", "yaml"], ["explain"], ["status", "--bogus"], ["explain", "-A", "x"]],
)
def test_bad_arguments_exit_2_with_the_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv, environ={}, stdout=io.StringIO(), stderr=io.StringIO())

    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("argument", "name"),
    [
        ("web", "web"),
        ("deployment/web", "web"),
        ("deploy/web", "web"),
        ("deployments.apps/web", "web"),
    ],
)
def test_a_deployment_is_named_as_kubectl_names_it(argument: str, name: str) -> None:
    assert cli.deployment_name(argument) == name


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", None), ("30s", 30.0), ("2m", 120.0), ("5", 5.0)]
)
def test_the_request_timeout_reads_as_kubectls(text: str, seconds: float | None) -> None:
    assert cli.request_timeout(text) == seconds
