#!/usr/bin/env bash
# Build helm from Go modules, cached outside the repository keyed by version, and print its path.
#
# The chart in charts/spot-failover/ is linted, rendered and installed by tests with this helm;
# the same version is built on every machine so the tests mean the same thing everywhere. A helm
# already on PATH is not used: its version would not be the pinned one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../gobuild.sh"

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
module="helm.sh/helm/${HELM_VERSION%%.*}"

tool_cache "helm-${HELM_VERSION}"
if [[ -x "$out/helm" ]]; then
  echo "$out/helm"
  exit 0
fi
go_work helm
printf '[helm build] building helm %s into %s (a cold build takes a while; cached afterwards)\n' \
  "$HELM_VERSION" "$out" >&2
# What helm's own Makefile stamps on a release build: the version, and no "unreleased" metadata.
ldflags="-s -w -X ${module}/internal/version.version=${HELM_VERSION}"
ldflags+=" -X ${module}/internal/version.metadata= -X ${module}/internal/version.gitTreeState=clean"
wrapper_build "$module" "$HELM_VERSION" "$module/cmd/helm" "$ldflags" "$out/helm"
echo "$out/helm"
