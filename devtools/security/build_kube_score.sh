#!/usr/bin/env bash
# Build kube-score (a static checker of Kubernetes manifests: security contexts, probes,
# resources, network policies, disruption budgets) from its Go module, cached outside the
# repository keyed by version, and print its path.
#
# The rendered manifests of deploy/ are scanned with it (tests/webhook/test_manifest_scan.py,
# `make audit`); the same version is built on every machine so that a finding means the same
# thing everywhere. A kube-score already on PATH is not used: its version would not be the
# pinned one. Its go.mod carries no replace directives, so `go install <pkg>@<version>` builds
# it as released.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../gobuild.sh"

KUBE_SCORE_VERSION="${KUBE_SCORE_VERSION:-v1.20.0}"

tool_cache "kube-score-${KUBE_SCORE_VERSION}"
if [[ -x "$out/kube-score" ]]; then
  echo "$out/kube-score"
  exit 0
fi
go_work kube-score
printf '[kube-score build] building %s into %s (cached afterwards)\n' "$KUBE_SCORE_VERSION" "$out" >&2
GOBIN="$work" go install -trimpath \
  -ldflags "-s -w -X main.version=${KUBE_SCORE_VERSION#v} -X main.commit=release -X main.date=release" \
  "github.com/zegl/kube-score/cmd/kube-score@${KUBE_SCORE_VERSION}" >&2
mv "$work/kube-score" "$out/kube-score"
echo "$out/kube-score"
