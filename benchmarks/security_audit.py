"""``make audit``: what each identity of spot-failover is allowed that it should not be, and
what the static scanner still finds in deploy/.

Every attempt of :data:`devtools.security.attempts.ATTEMPTS` is made once with its identity on
a :func:`devtools.security.stage.stage` of the local control plane (real API server, the
webhook process with its shipped identity, RBAC and admission policies), and its HTTP status is
recorded with who refused it. kube-score scans the rendered kustomizations
(:mod:`devtools.security.kube_score`). Written: ``benchmarks/results/audit.json`` (every
attempt and finding) and ``SECURITY-AUDIT.md``; the figures go to ``latest.json`` like every
suite's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from benchmarks import results
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.security import kube_score
from devtools.security.attempts import ALLOWED, ATTEMPTS, Outcome, make
from devtools.security.identities import REFUSALS
from devtools.security.stage import stage

AUDIT: Final = results.RESULTS.parent / "audit.json"
DOCUMENT: Final = Path(__file__).resolve().parents[1] / "SECURITY-AUDIT.md"
ISSUE_ITEMS: Final = {
    0: "the sidecar's scope",
    1: "the webhook's rights",
    2: "rights that linger",
    3: "Lease squatting",
    5: "names that collide",
    6: "the certificate Job, forged Events",
    7: "the warden",
}


def attempts_data(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [
        {
            "identity": str(outcome.attempt.identity),
            "attempt": outcome.attempt.what,
            "issue_item": outcome.attempt.issue,
            "expected": outcome.attempt.expected,
            "status": outcome.answer.status,
            "refused_by": outcome.answer.refused_by,
            "as_expected": outcome.as_expected,
        }
        for outcome in outcomes
    ]


def scan_data(comparison: kube_score.Comparison, tool: str) -> dict[str, Any]:
    return {
        "tool": tool,
        "kustomizations": [
            str(path.relative_to(DOCUMENT.parent)) for path in kube_score.KUSTOMIZATIONS
        ],
        "accepted": [
            {"finding": str(finding), "grade": finding.grade, "reason": acceptance.reason}
            for finding, acceptance in comparison.accepted
        ],
        "new": [{"finding": str(f), "grade": f.grade} for f in comparison.new],
        "stale": [f"{a.check}: {a.summary} on {', '.join(a.objects)}" for a in comparison.stale],
    }


def figures(attempts: Sequence[Mapping[str, Any]], scan: Mapping[str, Any]) -> dict[str, float]:
    attacks = [a for a in attempts if a["expected"] != ALLOWED]
    legitimate = [a for a in attempts if a["expected"] == ALLOWED]
    return {
        "security_escalations_allowed": sum(a["status"] not in REFUSALS for a in attacks),
        "security_escalation_attempts": len(attacks),
        "security_attacks_not_refused_as_expected": sum(not a["as_expected"] for a in attacks),
        "security_legitimate_actions_refused": sum(not a["as_expected"] for a in legitimate),
        "manifest_scan_findings_unaccepted": len(scan["new"]),
        "manifest_scan_findings_accepted": len(scan["accepted"]),
        "manifest_scan_acceptances_stale": len(scan["stale"]),
    }


def run(cluster: LocalCluster, kube: Kube, work: Path) -> dict[str, float]:
    with stage(cluster, kube, work / "escalation") as on:
        outcomes = [make(on, attempt) for attempt in ATTEMPTS]
    comparison = kube_score.compare(kube_score.scan(), kube_score.load_accepted())
    attempts = attempts_data(outcomes)
    scan = scan_data(comparison, kube_score.kube_score().parent.name)
    measured = figures(attempts, scan)
    data = {"figures": measured, "attempts": attempts, "scan": scan}
    AUDIT.parent.mkdir(parents=True, exist_ok=True)
    AUDIT.write_text(json.dumps(data, indent=2) + "\n")
    DOCUMENT.write_text(document(data))
    return measured


# --- SECURITY-AUDIT.md --------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def document(data: Mapping[str, Any]) -> str:
    """SECURITY-AUDIT.md from the contents of audit.json."""
    figures_ = data["figures"]
    scan = data["scan"]
    rows = [
        "| identity | attempt | issue item | expected | HTTP status | refused by |",
        "|---|---|---|---|---|---|",
    ]
    for a in data["attempts"]:
        mark = "" if a["as_expected"] else " **(not as expected)**"
        attack = a["expected"] != ALLOWED
        item = f"{a['issue_item']}: {ISSUE_ITEMS[a['issue_item']]}" if attack else ""
        expected = f"refused by {a['expected']}" if attack else "allowed"
        rows.append(
            f"| {_cell(a['identity'])} | {_cell(a['attempt'])} | {item} | {expected} | "
            f"{a['status']}{mark} | {a['refused_by'] or ''} |"
        )
    accepted = ["| finding | grade | why it is accepted |", "|---|---|---|"] + [
        f"| {_cell(f['finding'])} | {f['grade']} | {_cell(f['reason'])} |" for f in scan["accepted"]
    ]
    new = [f"- {f['finding']} ({f['grade']})" for f in scan["new"]] or ["None."]
    stale = [f"- {s}" for s in scan["stale"]] or ["None."]
    lines = [
        "# Security audit",
        "",
        "Written by `make audit` (`benchmarks/security_audit.py`); raw results:",
        "`benchmarks/results/audit.json`. What each identity may and may not do, and what",
        "Kubernetes cannot narrow: the README's *Least privilege* section.",
        "",
        "## Escalation attempts",
        "",
        "Each attempt is one request made with one of spot-failover's identities, with its own",
        "token, on the local control plane: a real kube-apiserver with the webhook process",
        "running as its shipped ServiceAccount, RBAC and admission policies from `deploy/`",
        "(the list: `devtools/security/attempts.py`; the set-up: `devtools/security/stage.py`).",
        "Writes are dry runs, which RBAC and admission decide exactly as real ones. Every",
        "attack is built to succeed if allowed (its names are free, its targets exist), and",
        "counts as allowed if answered anything but a refusal (401, 403); the rows expected",
        "allowed are what the identity is for, and show that its token is real. The same",
        "list is asserted by `tests/webhook/test_escalation.py`. Issue items refer to the",
        "security review that the attempts come from (0: the sidecar's scope from before it).",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| `security_escalations_allowed` | {figures_['security_escalations_allowed']} | 0 |",
        f"| `security_escalation_attempts` | {figures_['security_escalation_attempts']} | |",
        "| `security_attacks_not_refused_as_expected` | "
        f"{figures_['security_attacks_not_refused_as_expected']} | 0 |",
        "| `security_legitimate_actions_refused` | "
        f"{figures_['security_legitimate_actions_refused']} | 0 |",
        "",
        *rows,
        "",
        "Not an API request, so not in this list: how much a review may cost the webhook",
        "(issue item 4: `webhook_rss_mib_under_stalled_uploads` and",
        "`webhook_valid_reviews_answered_during_abuse` in BENCHMARKS.md, and the shipped",
        "NetworkPolicy), and that derived names never collide (item 5: property tests in",
        "`tests/webhook/core/test_rbac.py`).",
        "",
        "## Static scan of the manifests",
        "",
        f"{scan['tool']} (built from its Go module by `devtools/security/build_kube_score.sh`),",
        "all default checks and the seccomp one, on `kubectl kustomize` of:",
        ", ".join(f"`{k}`" for k in scan["kustomizations"]) + ".",
        "`tests/webhook/test_manifest_scan.py` fails on any finding not accepted in",
        "`devtools/security/kube-score-accepted.yaml`, and on an acceptance that matches",
        "nothing.",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| `manifest_scan_findings_unaccepted` | {figures_['manifest_scan_findings_unaccepted']}"
        " | 0 |",
        f"| `manifest_scan_findings_accepted` | {figures_['manifest_scan_findings_accepted']} | |",
        "",
        "Accepted findings:",
        "",
        *accepted,
        "",
        "Findings not accepted:",
        "",
        *new,
        "",
        "Acceptances that match nothing:",
        "",
        *stale,
        "",
    ]
    return "\n".join(lines)
