#!/usr/bin/env bash
# Build promtool (Prometheus's rule checker and unit-test runner) from Go modules, cached
# outside the repository keyed by version, and print its path.
#
# The alert rules in deploy/monitoring/ are unit-tested with `promtool test rules`; the same
# version is built on every machine so the tests mean the same thing everywhere. A promtool
# already on PATH is not used: its version would not be the pinned one.
#
# Why a wrapper module: `go install <pkg>@<version>` builds with the module's own go.mod and
# refuses any that carry replace or exclude directives. Requiring the Prometheus module from a
# small module of our own builds it whatever its go.mod holds, and records the versions used.
# Prometheus's Go module versions are v0.<major><minor 2 digits>.<patch> for Prometheus
# v<major>.<minor>.<patch> (v0.316.0 is Prometheus 3.16.0).
set -euo pipefail

PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"

cache_root="${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}"
out="$cache_root/bin/prometheus-${PROMETHEUS_MODULE_VERSION}"

log() { printf '[promtool build] %s\n' "$*" >&2; }

mkdir -p "$out"
# One build at a time per cache: a second caller waits, then finds promtool built.
exec 9>"$out/.build.lock"
flock 9
if [[ -x "$out/promtool" ]]; then
  echo "$out/promtool"
  exit 0
fi
command -v go >/dev/null || { log "Go is needed to build promtool"; exit 1; }
log "building promtool ${PROMETHEUS_MODULE_VERSION} into $out (cached afterwards)"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
minor="${PROMETHEUS_MODULE_VERSION#v0.}"; patch="${minor#*.}"; minor="${minor%%.*}"
release="v${minor:0:1}.$((10#${minor:1})).${patch}"
gomod="$(go mod download -json "github.com/prometheus/prometheus@${PROMETHEUS_MODULE_VERSION}" |
  sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
printf 'module spotfailover.local/promtool\n\ngo %s\n\nrequire github.com/prometheus/prometheus %s\n' \
  "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")" "$PROMETHEUS_MODULE_VERSION" >"$work/go.mod"
ldflags="-s -w -X github.com/prometheus/common/version.Version=${release#v}"
ldflags+=" -X github.com/prometheus/common/version.Branch=release"
(cd "$work" && go get "github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION}" >&2 &&
  go build -trimpath -ldflags "$ldflags" -o "$out/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
mv "$out/promtool.tmp" "$out/promtool"
echo "$out/promtool"
