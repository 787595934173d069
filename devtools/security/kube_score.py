"""kube-score on deploy/ as users get it, against the findings accepted with their reasons.

Every kustomization a user may apply (:data:`KUSTOMIZATIONS`) is rendered with the cluster's
kubectl and scored by the pinned kube-score (built by ``build_kube_score.sh``), all its default
checks and the optional seccomp one. A finding is one check that did not pass on one object
(and container), with kube-score's summary; the same object rendered by two kustomizations is
one finding. ``kube-score-accepted.yaml`` beside this file lists the findings that stay, each
with the reason it is accepted; :func:`compare` says which findings are new and which
acceptances no longer match anything (both are failures: the file says exactly what remains).

Reading kube-score's JSON and comparing are pure; rendering and scoring run the two tools.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from devtools.controlplane.binaries import locate
from devtools.webhook_manifests import DEPLOY

HERE: Final = Path(__file__).resolve().parent
BUILD_SCRIPT: Final = HERE / "build_kube_score.sh"
ACCEPTED_FILE: Final = HERE / "kube-score-accepted.yaml"
KUSTOMIZATIONS: Final = (DEPLOY, DEPLOY / "overlays" / "cert-manager", DEPLOY / "monitoring")
KUBERNETES_VERSION: Final = "v1.36"  # the pinned release of devtools/controlplane/build.sh
OPTIONAL_CHECKS: Final = ("container-seccomp-profile",)
PASSED: Final = 10


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    object: str
    """``<Kind>/<name>``."""
    check: str
    summary: str
    container: str = ""
    grade: str = dataclasses.field(default="", compare=False)
    """``critical`` or ``warning``."""

    def __str__(self) -> str:
        where = f"{self.object} ({self.container})" if self.container else self.object
        return f"{where}: {self.check}: {self.summary}"


@dataclasses.dataclass(frozen=True)
class Acceptance:
    check: str
    summary: str
    objects: tuple[str, ...]
    reason: str
    containers: tuple[str, ...] = ()
    """Empty: any container (or none)."""

    def covers(self, finding: Finding) -> bool:
        return (
            finding.check == self.check
            and finding.summary == self.summary
            and finding.object in self.objects
            and (not self.containers or finding.container in self.containers)
        )


@dataclasses.dataclass(frozen=True)
class Comparison:
    accepted: tuple[tuple[Finding, Acceptance], ...]
    new: tuple[Finding, ...]
    stale: tuple[Acceptance, ...]
    """Acceptances that cover no finding any more."""


def findings(report: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """The failed checks of kube-score's JSON report (output version 2)."""
    found: set[Finding] = set()
    for scored in report:
        kind = scored["type_meta"]["kind"]
        name = scored["object_meta"]["name"]
        for result in scored.get("checks") or []:
            if result.get("skipped") or result["grade"] >= PASSED:
                continue
            grade = "warning" if result["grade"] > 1 else "critical"
            comments = result.get("comments") or [{"path": "", "summary": result["check"]["name"]}]
            for comment in comments:
                found.add(
                    Finding(
                        f"{kind}/{name}",
                        result["check"]["id"],
                        comment["summary"],
                        comment.get("path") or "",
                        grade,
                    )
                )
    return sorted(found)


def load_accepted(path: Path = ACCEPTED_FILE) -> list[Acceptance]:
    entries = yaml.safe_load(path.read_text()) or []
    return [
        Acceptance(
            check=entry["check"],
            summary=entry["summary"],
            objects=tuple(entry["objects"]),
            reason=" ".join(str(entry["reason"]).split()),
            containers=tuple(entry.get("containers", ())),
        )
        for entry in entries
    ]


def compare(found: Iterable[Finding], accepted: Sequence[Acceptance]) -> Comparison:
    pairs: list[tuple[Finding, Acceptance]] = []
    new: list[Finding] = []
    for finding in sorted(set(found)):
        covering = next((a for a in accepted if a.covers(finding)), None)
        if covering is None:
            new.append(finding)
        else:
            pairs.append((finding, covering))
    used = {id(acceptance) for _, acceptance in pairs}
    stale = tuple(a for a in accepted if id(a) not in used)
    return Comparison(tuple(pairs), tuple(new), stale)


# --- running the tools ------------------------------------------------------------------------


def kube_score() -> Path:
    """The pinned kube-score; built on first use, found in the cache afterwards."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def render(kustomization: Path) -> str:
    """``kubectl kustomize <kustomization>``."""
    result = subprocess.run(
        [str(locate().kubectl), "kustomize", str(kustomization)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def score(manifests: str) -> list[dict[str, Any]]:
    """kube-score's JSON report of ``manifests`` (kube-score exits 1 when a check fails)."""
    command = [
        str(kube_score()),
        "score",
        "--output-format=json",
        f"--kubernetes-version={KUBERNETES_VERSION}",
        *(f"--enable-optional-test={check}" for check in OPTIONAL_CHECKS),
        "-",
    ]
    result = subprocess.run(
        command, input=manifests, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode not in {0, 1}:
        raise RuntimeError(f"kube-score failed ({result.returncode}): {result.stderr}")
    report: list[dict[str, Any]] = json.loads(result.stdout) or []  # null: nothing it scores
    return report


def scan(kustomizations: Iterable[Path] = KUSTOMIZATIONS) -> list[Finding]:
    """Every finding on every kustomization, each once."""
    found: set[Finding] = set()
    for kustomization in kustomizations:
        found.update(findings(score(render(kustomization))))
    return sorted(found)
