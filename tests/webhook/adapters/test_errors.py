"""The kubernetes client's failures, mapped onto the shared tree of API errors in one place."""

from __future__ import annotations

import pytest
import urllib3.exceptions
from kubernetes.client.rest import ApiException

from spot_common.api_errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    ServerError,
    Unreachable,
)
from webhook.adapters.errors import from_client_error

OPERATION = "get ReplicaSet shop/web-7d4b9c6f5d"


def api_exception(status: int, body: str = "", reason: str = "") -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = body
    return error


@pytest.mark.parametrize(
    ("status", "kind"),
    [(403, Forbidden), (404, NotFound), (409, Conflict), (500, ServerError), (503, ServerError)],
)
def test_an_answer_of_the_api_server_becomes_the_error_of_its_status(
    status: int, kind: type[ApiError]
) -> None:
    error = from_client_error(OPERATION, api_exception(status, '{"message": "no such thing"}'))
    assert type(error) is kind
    assert error.status == status
    assert OPERATION in str(error)
    assert "no such thing" in str(error)


def test_an_exception_of_the_client_without_a_status_means_no_answer_came() -> None:
    error = from_client_error(OPERATION, api_exception(0, reason="Handshake status 0"))
    assert type(error) is Unreachable
    assert "Handshake status 0" in str(error)


@pytest.mark.parametrize(
    "failure",
    [
        urllib3.exceptions.MaxRetryError(None, "/apis", "connection refused"),  # type: ignore[arg-type]
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
    ],
)
def test_a_failure_on_the_way_to_the_server_is_unreachable(failure: BaseException) -> None:
    error = from_client_error(OPERATION, failure)
    assert type(error) is Unreachable
    assert type(failure).__name__ in str(error)


def test_an_already_typed_error_is_passed_through() -> None:
    typed = NotFound(OPERATION, "HTTP 404", 404)
    assert from_client_error("another operation", typed) is typed


def test_anything_else_is_an_api_error_naming_the_operation_and_the_failure() -> None:
    error = from_client_error(OPERATION, ValueError("the answer is not JSON"))
    assert type(error) is ApiError
    assert str(error).startswith(OPERATION)
    assert "ValueError: the answer is not JSON" in str(error)
