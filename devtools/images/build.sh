#!/usr/bin/env bash
# `make images`: build Dockerfile.sidecar and Dockerfile.webhook with buildah, run each image's
# entry point as the image's own user on a read-only root, print their sizes, lint both.
#
# No container engine runs here, so buildah builds them (`--isolation chroot`, the `vfs` storage
# driver: no daemon, no overlay mounts, no user namespaces) from a local base image made by
# base.sh, since no registry is reachable to pull the public one. HTTPS inside the build trusts
# what this machine trusts: its CA bundle is mounted read-only into the build (never copied
# into a layer) and its path handed to pip and uv through the CA_BUNDLE build argument.
#
# A run has no container runtime either: the image is mounted, the mount made read-only in a
# private mount namespace, and the entry point started in a chroot as the image's USER, with
# the image's environment only. What that proves: the files are there, owned and readable as
# they must be, the entry point and its imports work without writing to the root. Runs as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
HADOLINT="${HADOLINT:-.venv/bin/hadolint}"
PYTHON="${PYTHON:-.venv/bin/python}"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
CA_FILE="${SPOT_FAILOVER_BUILD_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
IMAGES=(sidecar webhook)

log() { printf '[images] %s\n' "$*" >&2; }
started=$SECONDS

log "lint: hadolint $("$HADOLINT" --version | awk '{print $NF}')"
"$HADOLINT" Dockerfile.sidecar Dockerfile.webhook

bash devtools/images/tools.sh
base="$(bash devtools/images/base.sh)"
log "base image: $base"

ca_args=()
if [[ -s "$CA_FILE" ]]; then
  ca_args=(--volume "$CA_FILE:/etc/ssl/certs/ca-certificates.crt:ro"
    --build-arg CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt)
fi

for name in "${IMAGES[@]}"; do
  t0=$SECONDS
  log "build spot-failover-$name:$VERSION"
  buildah build --quiet --layers --pull-never --isolation chroot -f "Dockerfile.$name" \
    --build-arg PYTHON_IMAGE="$base" "${ca_args[@]}" \
    -t "localhost/spot-failover-$name:$VERSION" . >/dev/null
  log "built spot-failover-$name in $((SECONDS - t0)) s"
done

# run ROOT IMAGE COMMAND...: COMMAND ("ENTRYPOINT" stands for the image's entry point) as the
# image's USER, with the image's environment only, in ROOT (IMAGE mounted), made read-only.
run() {
  local root="$1" image="$2" user arg
  shift 2
  user="$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")"
  mapfile -t env < <(buildah inspect --type image \
    --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$image" | sed '/^$/d')
  mapfile -t entrypoint < <(buildah inspect --type image \
    --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$image" | sed '/^$/d')
  command=()
  for arg in "$@"; do
    if [[ "$arg" == ENTRYPOINT ]]; then command+=("${entrypoint[@]}"); else command+=("$arg"); fi
  done
  unshare --mount --fork -- bash -euo pipefail -c '
    root="$1" user="$2"; shift 2
    mount --make-rprivate /
    mount --bind "$root" "$root"
    mount -o remount,bind,ro "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o size=16m,mode=1777 tmpfs "$root/tmp"
    exec chroot --userspec="$user" "$root" "$@"
  ' run "$root" "$user" /usr/bin/env -i "${env[@]}" "${command[@]}"
}

# expect ROOT IMAGE WHAT COMMAND...: run it, show its first line; any failure fails the target.
expect() {
  local root="$1" image="$2" what="$3" out
  shift 3
  if ! out="$(run "$root" "$image" "$@" 2>&1)"; then
    log "FAILED $what"
    printf '%s\n' "$out" >&2
    exit 1
  fi
  log "ok  $what: $(printf '%s\n' "$out" | head -1)"
}

# Run by the image's own python: the user, the read-only root, the imports the program needs,
# and the ones its image must not hold.
probe='import importlib, importlib.metadata, os, sys
uid, gid = os.getuid(), os.getgid()
assert uid != 0 and (uid, gid) == (65532, 65532), (uid, gid)
try:
    open("/opt/venv/probe", "w")
except OSError:
    pass
else:
    sys.exit("the root file system is writable")
for name in sys.argv[1].split(","):
    importlib.import_module(name)
for name in filter(None, sys.argv[2].split(",")):
    try:
        importlib.import_module(name)
    except ImportError:
        continue
    sys.exit(f"{name} must not be in this image")
print("uid", uid, "on a read-only root; spot-failover", importlib.metadata.version("spot-failover"),
      "imports", sys.argv[1])'

# check IMAGE NAME NEEDED ABSENT: the entry point's --help and --version, then the probe.
check() {
  local image="$1" name="$2" container root status=0
  container="$(buildah from --pull-never --quiet "$image")"
  root="$(buildah mount "$container")"
  (
    expect "$root" "$image" "$name: entry point --help" ENTRYPOINT --help
    expect "$root" "$image" "$name: entry point --version" ENTRYPOINT --version
    expect "$root" "$image" "$name: user, root, imports" python -c "$probe" "$3" "$4"
  ) || status=$?
  buildah umount "$container" >/dev/null
  buildah rm "$container" >/dev/null
  return "$status"
}

sidecar="localhost/spot-failover-sidecar:$VERSION"
webhook="localhost/spot-failover-webhook:$VERSION"
check "$sidecar" sidecar \
  sidecar.__main__,sidecar.daemon,requests,prometheus_client,pydantic_settings,pythonjsonlogger \
  kubernetes,kopf,aiohttp,pip
check "$webhook" webhook webhook.__main__,webhook.app,kopf,kubernetes,aiohttp,cryptography,jsonpatch pip

log "sizes (uncompressed, as stored):"
for image in "$sidecar" "$webhook"; do
  buildah inspect --type image "$image" | "$PYTHON" -m devtools.images.sizes "$image"
done
log "done in $((SECONDS - started)) s"
