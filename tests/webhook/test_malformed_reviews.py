"""Whatever reaches the HTTPS endpoint, the answer is 400 with a message or a valid review.

The API server only sends well-formed AdmissionReviews; this fuzzes the endpoint itself with
bytes, arbitrary JSON, and valid reviews with one part broken, over real HTTPS.
"""

from __future__ import annotations

import copy
import json

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from .harness import RunningWebhook, Tls
from .reviews import broken_reviews, json_values, valid_review

pytestmark = pytest.mark.cluster

FUZZ = settings(max_examples=60, deadline=None)

bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | broken_reviews()
    | st.just(b"[" * 100_000)
)


def check_answer(answer: requests.Response, body: bytes) -> None:
    assert answer.status_code in {200, 400}, (answer.status_code, answer.text[:300])
    if answer.status_code == 400:
        assert answer.text.startswith("bad AdmissionReview: ")
        return
    sent = json.loads(body)
    review = answer.json()
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert review["kind"] == "AdmissionReview"
    assert review["response"]["uid"] == sent["request"]["uid"]
    assert review["response"]["allowed"] is True


@FUZZ
@given(body=bodies)
def test_any_body_gets_400_with_a_message_or_an_allowed_review(
    running_webhook: RunningWebhook, webhook_tls: Tls, body: bytes
) -> None:
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(
            running_webhook.url,
            data=body,
            headers={"Content-Type": "application/json"},
            verify=str(webhook_tls.ca.cert),
            timeout=10,
        )
    check_answer(answer, body)


def test_a_review_that_is_not_json_gets_a_message_naming_the_problem(
    running_webhook: RunningWebhook, webhook_tls: Tls
) -> None:
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(
            running_webhook.url, data=b"{", verify=str(webhook_tls.ca.cert), timeout=10
        )
    assert answer.status_code == 400
    assert "the body is not JSON" in answer.text


def test_a_review_of_something_other_than_a_pod_create_is_allowed_with_a_warning(
    running_webhook: RunningWebhook, webhook_tls: Tls
) -> None:
    review = valid_review("fuzz")
    review["request"]["operation"] = "UPDATE"
    review["request"]["oldObject"] = copy.deepcopy(review["request"]["object"])
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(
            running_webhook.url, json=review, verify=str(webhook_tls.ca.cert), timeout=10
        )
    assert answer.status_code == 200
    response = answer.json()["response"]
    assert response["allowed"] is True
    assert "patch" not in response
    assert "handles only pod CREATE, got UPDATE pods" in response["warnings"][0]
