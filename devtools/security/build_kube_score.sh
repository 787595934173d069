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

KUBE_SCORE_VERSION="${KUBE_SCORE_VERSION:-v1.20.0}"

cache_root="${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}"
out="$cache_root/bin/kube-score-${KUBE_SCORE_VERSION}"

log() { printf '[kube-score build] %s\n' "$*" >&2; }

mkdir -p "$out"
# One build at a time per cache: a second caller waits, then finds kube-score built.
exec 9>"$out/.build.lock"
flock 9
if [[ -x "$out/kube-score" ]]; then
  echo "$out/kube-score"
  exit 0
fi
command -v go >/dev/null || { log "Go is needed to build kube-score"; exit 1; }
log "building kube-score ${KUBE_SCORE_VERSION} into $out (cached afterwards)"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
GOBIN="$work" go install -trimpath \
  -ldflags "-s -w -X main.version=${KUBE_SCORE_VERSION#v} -X main.commit=release -X main.date=release" \
  "github.com/zegl/kube-score/cmd/kube-score@${KUBE_SCORE_VERSION}" >&2
mv "$work/kube-score" "$out/kube-score"
echo "$out/kube-score"
