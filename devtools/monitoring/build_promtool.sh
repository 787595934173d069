#!/usr/bin/env bash
# Build promtool (Prometheus's rule checker and unit-test runner) from Go modules, cached
# outside the repository keyed by version, and print its path.
#
# The alert rules in deploy/monitoring/ are unit-tested with `promtool test rules`; the same
# version is built on every machine so the tests mean the same thing everywhere. A promtool
# already on PATH is not used: its version would not be the pinned one. Prometheus's Go module
# versions are v0.<major><minor 2 digits>.<patch> for Prometheus v<major>.<minor>.<patch>
# (v0.316.0 is Prometheus 3.16.0).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../gobuild.sh"

PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
module=github.com/prometheus/prometheus

tool_cache "prometheus-${PROMETHEUS_MODULE_VERSION}"
if [[ -x "$out/promtool" ]]; then
  echo "$out/promtool"
  exit 0
fi
go_work promtool
printf '[promtool build] building %s into %s (cached afterwards)\n' \
  "$PROMETHEUS_MODULE_VERSION" "$out" >&2
minor="${PROMETHEUS_MODULE_VERSION#v0.}"; patch="${minor#*.}"; minor="${minor%%.*}"
release="v${minor:0:1}.$((10#${minor:1})).${patch}"
ldflags="-s -w -X github.com/prometheus/common/version.Version=${release#v}"
ldflags+=" -X github.com/prometheus/common/version.Branch=release"
wrapper_build "$module" "$PROMETHEUS_MODULE_VERSION" "$module/cmd/promtool" "$ldflags" "$out/promtool"
echo "$out/promtool"
