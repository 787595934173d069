"""The typed errors of the ``spot-failover`` command, each with the line kubectl would print.

People script around kubectl's messages and exit codes, so the command keeps them: a failed
request exits 1 with kubectl's wording on stderr, a usage error exits 2. The Kubernetes client's
exceptions are translated into these in one place (:mod:`spot_failover.kube`), the original
chained as the cause. Nothing here is retried: a command run by a person reports and exits.

::

    CliError                   the command failed; ``str()`` is the line for stderr; exit 1
     ├── UsageError            bad arguments (exit 2)
     ├── ConfigError           no usable configuration: kubeconfig missing or invalid,
     │                         unknown context
     ├── ConnectError          the API server cannot be reached (refused, TLS, timeout)
     └── ServerError           the API server answered with an error Status:
          │                    ``Error from server (Reason): message``
          ├── NotFoundError    404, e.g. ``deployments.apps "web" not found``
          ├── ForbiddenError   403: this identity may not do that (RBAC)
          └── UnauthorizedError  401: the credentials were not accepted
"""

from __future__ import annotations

from typing import ClassVar


class CliError(Exception):
    """The command failed; ``str(error)`` is what it prints on stderr."""

    exit_code: ClassVar[int] = 1


class UsageError(CliError):
    """The arguments cannot be used (as argparse's own errors, exit 2)."""

    exit_code: ClassVar[int] = 2

    def __init__(self, problem: str) -> None:
        super().__init__(f"error: {problem}")


class ConfigError(CliError):
    """No usable client configuration."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"error: {problem}")


class ConnectError(CliError):
    """The API server cannot be reached."""

    def __init__(self, line: str) -> None:
        super().__init__(line)

    @classmethod
    def refused(cls, host: str) -> ConnectError:
        return cls(
            f"The connection to the server {host} was refused - "
            "did you specify the right host or port?"
        )

    @classmethod
    def unable(cls, reason: str) -> ConnectError:
        return cls(f"Unable to connect to the server: {reason}")


class ServerError(CliError):
    """The API server answered with an error; ``reason`` and ``message`` are its Status's."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        if self.reason:
            return f"Error from server ({self.reason}): {self.message}"
        return f"Error from server: {self.message}"


class NotFoundError(ServerError):
    """404: the object does not exist."""


class ForbiddenError(ServerError):
    """403: RBAC does not allow this request to this identity."""


class UnauthorizedError(ServerError):
    """401: the API server did not accept the credentials."""

    def _line(self) -> str:
        return f"error: You must be logged in to the server ({self.message or 'Unauthorized'})"
