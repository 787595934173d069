#!/usr/bin/env bash
# Build the local control-plane binaries from Go modules and cache them outside the repository.
#
# Prints the directory that holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl and kwok. Binaries found in $KUBEBUILDER_ASSETS (the envtest convention) are used as
# they are; whatever is missing is built once per version into
#   ${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}/bin/<versions>/
# and reused from there on every later run.
#
# Why a wrapper module: k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) with
# local paths, so `go install k8s.io/kubernetes/cmd/...@v` is refused. A module that requires
# k8s.io/kubernetes and replaces each staging module with its published v0.N.P builds instead.
# etcd's server module has the same shape; kwok installs directly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../gobuild.sh"

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"

kube_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
all_binaries=(etcd "${kube_binaries[@]}" kwok)
# kwok plays kubelets through "stages"; its release ships the standard fast ones (node
# initialise, heartbeat with lease, pod ready/complete/delete). They are taken from the same
# module version and concatenated into one config file beside the binaries.
kwok_stage_files=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)

log() { printf '[control-plane build] %s\n' "$*" >&2; }

have() { # have NAME: the binary is in KUBEBUILDER_ASSETS or the cache; link it into the cache dir
  local name="$1"
  if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/$name" ]]; then
    ln -sf "$KUBEBUILDER_ASSETS/$name" "$out/$name"
    return 0
  fi
  [[ -x "$out/$name" ]]
}

tool_cache "kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
missing=()
for b in "${all_binaries[@]}"; do have "$b" || missing+=("$b"); done
[[ -s "$out/kwok-stages.yaml" ]] || missing+=(kwok-stages)
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$out"
  exit 0
fi
go_work control-plane
log "building ${missing[*]} into $out (a cold build takes a while; it is cached afterwards)"
kminor="${KUBE_VERSION#v1.}"; kminor="${kminor%%.*}"
staging_version="v0.${KUBE_VERSION#v1.}"

needs() { local b; for b in "${missing[@]}"; do [[ "$b" == "$1" ]] && return 0; done; return 1; }

build_kube() {
  local mod="$work/kube" gomod name
  mkdir -p "$mod"
  gomod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  {
    echo "module spotfailover.local/controlplane"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    echo "replace ("
    # Every staging module that k8s.io/kubernetes requires at v0.0.0, at its published version.
    sed -n '/^replace (/,/^)/p' "$gomod" | awk '/=> \.\/staging/{print $1}' | while read -r m; do
      grep -Eq "^[[:space:]]+${m//./\\.} v0\.0\.0" "$gomod" && echo "	$m => $m ${staging_version}"
    done
    echo ")"
  } >"$mod/go.mod"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION}"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${kminor}"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=${KUBE_VERSION}"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${kminor}"
  (cd "$mod" && go get "k8s.io/kubernetes@${KUBE_VERSION}" >&2)
  for name in "${kube_binaries[@]}"; do
    needs "$name" || continue
    log "go build $name ${KUBE_VERSION}"
    (cd "$mod" && go get "k8s.io/kubernetes/cmd/$name@${KUBE_VERSION}" >&2 &&
      go build -trimpath -ldflags "$ldflags" -o "$out/$name.tmp" "k8s.io/kubernetes/cmd/$name")
    mv "$out/$name.tmp" "$out/$name"
  done
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  printf 'module spotfailover.local/etcd\n\ngo 1.24\n' >"$mod/go.mod"
  log "go build etcd ${ETCD_VERSION}"
  (cd "$mod" && go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2 &&
    go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
}

build_kwok() {
  log "go install kwok ${KWOK_VERSION}"
  GOBIN="$work/gobin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  mv "$work/gobin/kwok" "$out/kwok"
}

kwok_stages() {
  local dir f
  dir="$(go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
  for f in "${kwok_stage_files[@]}"; do
    printf -- '---\n'
    cat "$dir/kustomize/stage/$f"
  done >"$out/kwok-stages.yaml.tmp"
  mv "$out/kwok-stages.yaml.tmp" "$out/kwok-stages.yaml"
}

needs kwok-stages && kwok_stages
needs etcd && build_etcd
needs kwok && build_kwok
for b in "${kube_binaries[@]}"; do if needs "$b"; then build_kube; break; fi; done

for b in "${all_binaries[@]}" kwok-stages.yaml; do
  have "$b" || [[ -s "$out/$b" ]] || { log "missing after build: $b"; exit 1; }
done
echo "$out"
