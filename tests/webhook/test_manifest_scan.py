"""kube-score on deploy/ as users apply it finds nothing but what is accepted, each with a reason.

The pinned kube-score scans ``kubectl kustomize`` of every kustomization users may apply; the
findings that stay are listed in devtools/security/kube-score-accepted.yaml with the reason
each is accepted (also published in SECURITY-AUDIT.md by ``make audit``).
"""

from __future__ import annotations

import functools

from devtools.security import kube_score
from devtools.security.kube_score import Acceptance, Finding, compare, findings


@functools.cache
def scanned() -> kube_score.Comparison:
    return compare(kube_score.scan(), kube_score.load_accepted())


def test_the_scanner_finds_nothing_in_deploy_that_is_not_accepted() -> None:
    assert [str(finding) for finding in scanned().new] == []


def test_every_accepted_finding_is_still_found_and_says_why() -> None:
    assert [f"{a.check}: {a.summary}" for a in scanned().stale] == []
    assert all(len(a.reason.split()) >= 10 for a in kube_score.load_accepted())


def test_the_scanner_looks_at_the_webhook_and_the_certificate_jobs() -> None:
    scanned_objects = {finding.object for finding, _ in scanned().accepted}
    assert {
        "Deployment/spot-failover-webhook",
        "Job/spot-failover-webhook-certgen",
        "CronJob/spot-failover-webhook-certgen",
    } <= scanned_objects


# --- reading kube-score's report, and comparing (pure) ------------------------------------------


def scored(kind: str, name: str, *checks: dict[str, object]) -> dict[str, object]:
    return {"type_meta": {"kind": kind}, "object_meta": {"name": name}, "checks": list(checks)}


def check(
    check_id: str, grade: int, *comments: tuple[str, str], skipped: bool = False
) -> dict[str, object]:
    return {
        "check": {"id": check_id, "name": check_id},
        "grade": grade,
        "skipped": skipped,
        "comments": [{"path": path, "summary": summary} for path, summary in comments],
    }


def test_each_failed_check_is_one_finding_per_comment_and_passed_or_skipped_ones_none() -> None:
    report = [
        scored(
            "Deployment",
            "web",
            check("container-resources", 1, ("app", "CPU limit is not set")),
            check("pod-networkpolicy", 5, ("", "no egress policy")),
            check("pod-probes", 10),
            check("container-seccomp-profile", 1, ("", "skipped"), skipped=True),
        )
    ]
    assert findings(report) == [
        Finding("Deployment/web", "container-resources", "CPU limit is not set", "app"),
        Finding("Deployment/web", "pod-networkpolicy", "no egress policy"),
    ]
    assert [f.grade for f in findings(report)] == ["critical", "warning"]


def test_an_acceptance_covers_its_objects_only_and_one_covering_nothing_is_stale() -> None:
    found = [
        Finding("Deployment/web", "container-resources", "CPU limit is not set", "app"),
        Finding("Job/certs", "container-resources", "CPU limit is not set", "app"),
    ]
    web = Acceptance("container-resources", "CPU limit is not set", ("Deployment/web",), "why")
    gone = Acceptance("pod-probes", "no probe", ("Deployment/web",), "why")
    comparison = compare(found, [web, gone])
    assert comparison.accepted == ((found[0], web),)
    assert comparison.new == (found[1],)
    assert comparison.stale == (gone,)
