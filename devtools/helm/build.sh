#!/usr/bin/env bash
# Build helm from Go modules, cached outside the repository keyed by version, and print its path.
#
# The chart in charts/spot-failover/ is linted, rendered and installed by tests with this helm;
# the same version is built on every machine so the tests mean the same thing everywhere. A helm
# already on PATH is not used: its version would not be the pinned one.
#
# Why a wrapper module: `go install <pkg>@<version>` builds with the module's own go.mod and
# refuses any that carry replace or exclude directives. Requiring helm from a small module of our
# own builds it whatever its go.mod holds, with the versions its go.mod asks for.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.2}"

cache_root="${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}"
out="$cache_root/bin/helm-${HELM_VERSION}"
major="${HELM_VERSION%%.*}"
module="helm.sh/helm/${major}"

log() { printf '[helm build] %s\n' "$*" >&2; }

mkdir -p "$out"
# One build at a time per cache: a second caller waits, then finds helm built.
exec 9>"$out/.build.lock"
flock 9
if [[ -x "$out/helm" ]]; then
  echo "$out/helm"
  exit 0
fi
command -v go >/dev/null || { log "Go is needed to build helm"; exit 1; }
log "building helm ${HELM_VERSION} into $out (a cold build takes a while; it is cached afterwards)"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gomod="$(go mod download -json "${module}@${HELM_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
printf 'module spotfailover.local/helm\n\ngo %s\n\nrequire %s %s\n' \
  "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")" "$module" "$HELM_VERSION" >"$work/go.mod"
# What helm's own Makefile stamps on a release build: the version, and no "unreleased" metadata.
ldflags="-s -w -X ${module}/internal/version.version=${HELM_VERSION}"
ldflags+=" -X ${module}/internal/version.metadata= -X ${module}/internal/version.gitTreeState=clean"
(cd "$work" && go get "${module}/cmd/helm@${HELM_VERSION}" >&2 &&
  go build -trimpath -ldflags "$ldflags" -o "$out/helm.tmp" "${module}/cmd/helm")
mv "$out/helm.tmp" "$out/helm"
echo "$out/helm"
