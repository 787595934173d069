"""Which HTTP bodies are AdmissionReviews the webhook answers, and the messages for the rest."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.core import review
from webhook.core.errors import MalformedReview

from ..reviews import json_values, valid_review


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()


def with_request(**changes: Any) -> dict[str, Any]:
    body = valid_review("shop")
    body["request"].update(changes)
    return body


MALFORMED = [
    pytest.param(b"\xff\xfe", "not UTF-8", id="not UTF-8"),
    pytest.param(b"{", "not JSON", id="not JSON"),
    pytest.param(b"[" * 100_000, "nested too deeply", id="nested too deeply"),
    pytest.param(b'{"a": NaN}', "not JSON", id="NaN, which is not JSON"),
    pytest.param(b'["\\ud800"]', "not JSON", id="an unpaired surrogate escape"),
    pytest.param(
        encode([]), "expected a JSON object (an AdmissionReview), got an array", id="array"
    ),
    pytest.param(
        encode({**valid_review("shop"), "apiVersion": "admission.k8s.io/v1beta1"}),
        "admissionReviewVersions: [v1]",
        id="v1beta1",
    ),
    pytest.param(
        encode({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
        "request is missing",
        id="no request",
    ),
    pytest.param(encode(with_request(uid="")), "request.uid is empty", id="empty uid"),
    pytest.param(
        encode(with_request(uid=7)),
        "request.uid: expected a string, got a number",
        id="uid a number",
    ),
    pytest.param(
        encode(with_request(userInfo=None)), "request.userInfo: expected an object", id="no user"
    ),
    pytest.param(
        encode(with_request(object=[1])),
        "request.object: expected an object, got an array",
        id="object an array",
    ),
    pytest.param(
        encode(with_request(dryRun="yes")),
        "request.dryRun: expected a boolean",
        id="dryRun a string",
    ),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_a_malformed_body_is_refused_with_a_message_naming_the_problem(
    body: bytes, message: str
) -> None:
    with pytest.raises(MalformedReview, match=None) as refused:
        review.parse(body)
    assert message in str(refused.value)


def test_a_pod_create_is_handled_and_its_namespace_filled_in_from_the_request() -> None:
    body = valid_review("shop")
    del body["request"]["object"]["metadata"]["namespace"]
    parsed = review.parse(encode(body))
    assert parsed.handled
    assert parsed.body["request"]["object"]["metadata"]["namespace"] == "shop"


@pytest.mark.parametrize(
    "changes",
    [{"operation": "UPDATE"}, {"subResource": "status"}, {"resource": {
        "group": "apps", "version": "v1", "resource": "deployments"}}],
    ids=["update", "subresource", "another resource"],
)  # fmt: skip
def test_a_valid_review_of_anything_but_a_pod_create_is_not_handled(
    changes: dict[str, Any],
) -> None:
    assert not review.parse(encode(with_request(**changes))).handled


def test_a_handled_review_gives_the_pod_being_created() -> None:
    body = valid_review("shop")
    assert review.parse(encode(body)).pod == body["request"]["object"]


def test_the_answer_of_an_injected_pod_carries_its_patch_as_base64_json() -> None:
    parsed = review.parse(encode(valid_review("shop")))
    patch = [{"op": "add", "path": "/metadata/annotations", "value": {"a/b": "ü"}}]
    answer = review.allowed(parsed, warnings=("careful",), patch=patch)
    response = answer["response"]
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    assert response["uid"] == parsed.uid
    assert response["allowed"] is True
    assert response["warnings"] == ["careful"]
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"], validate=True)) == patch


def test_an_empty_patch_is_an_answer_without_one() -> None:
    parsed = review.parse(encode(valid_review("shop")))
    assert review.allowed(parsed, patch=[])["response"] == {"uid": parsed.uid, "allowed": True}


def test_the_fail_open_answer_allows_and_echoes_the_uid() -> None:
    parsed = review.parse(encode(valid_review("shop")))
    answer = review.allowed(parsed, warnings=("careful",))
    assert answer["response"] == {"uid": parsed.uid, "allowed": True, "warnings": ["careful"]}


def outcome(body: bytes) -> str:
    try:
        review.parse(body)
    except MalformedReview as error:
        return str(error)
    return "review"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | json_values.map(encode))
def test_parsing_any_body_gives_a_review_or_a_malformed_review_error(body: bytes) -> None:
    assert outcome(body)
