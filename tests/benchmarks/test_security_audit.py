"""The audit counts an attack the API server allowed, and a legitimate action it refused, and
publishes each attempt with its status and who refused it."""

from __future__ import annotations

from typing import Any

from benchmarks.security_audit import document, figures


def attempt(what: str, expected: str, status: int, refused_by: str | None = None) -> dict[str, Any]:
    allowed = 200 <= status < 300
    return {
        "identity": "sidecar (pod-bound token)",
        "attempt": what,
        "issue_item": 3,
        "expected": expected,
        "status": status,
        "refused_by": refused_by,
        "as_expected": allowed if expected == "allowed" else refused_by == expected,
    }


ATTEMPTS = [
    attempt("hold another Deployment's Lease", "spot-failover-lease-holders", 403, "RBAC"),
    attempt("hold its Lease for a million seconds", "spot-failover-lease-holders", 200),
    attempt("create a Lease to squat on", "RBAC", 403, "RBAC"),
    attempt("exec into its pod", "RBAC", 500),  # past authorization: the kubelet failed
    attempt("hold its own Lease", "allowed", 403, "RBAC"),
]
SCAN = {
    "tool": "kube-score-v1.20.0",
    "kustomizations": ["deploy"],
    "accepted": [{"finding": "Deployment/x: check: summary", "grade": "critical", "reason": "r"}],
    "new": [],
    "stale": [],
}


def test_an_attack_answered_anything_but_a_refusal_is_an_escalation() -> None:
    measured = figures(ATTEMPTS, SCAN)
    assert measured["security_escalations_allowed"] == 2
    assert measured["security_escalation_attempts"] == 4
    assert measured["security_attacks_not_refused_as_expected"] == 3  # one by the wrong layer
    assert measured["security_legitimate_actions_refused"] == 1
    assert measured["manifest_scan_findings_accepted"] == 1


def test_the_report_shows_each_attempt_with_its_status_and_who_refused_it() -> None:
    data = {"attempts": ATTEMPTS, "scan": SCAN, "figures": figures(ATTEMPTS, SCAN)}
    text = document(data)
    assert (
        "| sidecar (pod-bound token) | create a Lease to squat on | 3: Lease squatting "
        "| refused by RBAC | 403 | RBAC |"
    ) in text
    assert (
        "| hold its Lease for a million seconds | 3: Lease squatting | refused by "
        "spot-failover-lease-holders | 200 **(not as expected)** |  |"
    ) in text
    assert "| `security_escalations_allowed` | 2 | 0 |" in text
    assert "| Deployment/x: check: summary | critical | r |" in text
