#!/usr/bin/env bash
# Make the local stand-in for the Dockerfiles' public base image and print its name.
#
# No container registry is reachable from the machines this runs on, so the pinned public
# image (python:3.11-slim on Debian bookworm) cannot be pulled. This makes an image of the same
# shape from Debian's own signed packages: debootstrap --variant=minbase of the same release,
# plus python3, python3-venv (the venv module and Debian's pip and setuptools wheels) and
# python-is-python3 (`python` on PATH, as in the public image). pip is then installed from
# Debian's pip wheel into /usr/local, where the public image has it: installed by pip, so that
# the Dockerfiles' `pip uninstall` in the final stage removes it (a dpkg-installed pip cannot
# be removed by pip). Debian's EXTERNALLY-MANAGED marker is removed, as the public image has
# none. Python is Debian's 3.11 (bookworm's own patch release), not the public image's.
#
# The image is committed with `buildah from scratch` + `commit`, named by its key (the release
# and BASE_REVISION, to be raised whenever what goes into the image changes), and cached: the
# root file system as a tarball under
#   ${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}/images/
# and the image in buildah's storage; either one present skips the debootstrap. Runs as root.
set -euo pipefail

RELEASE="${DEBIAN_RELEASE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=python3,python3-venv,python-is-python3
BASE_REVISION=2

key="${RELEASE}-python3-r${BASE_REVISION}"
image="localhost/spot-failover-base:${key}"
cache_root="${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}"
tarball="$cache_root/images/base-${key}.tar"

log() { printf '[base image] %s\n' "$*" >&2; }

mkdir -p "$cache_root/images"
exec 9>"$cache_root/images/.base.lock"
flock 9
if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

work="$(mktemp -d)"
container=""
cleanup() {
  [[ -n "$container" ]] && buildah rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [[ ! -s "$tarball" ]]; then
  log "debootstrap $RELEASE with $PACKAGES (once; cached as $tarball)"
  root="$work/root"
  debootstrap --variant=minbase --include="$PACKAGES" "$RELEASE" "$root" "$MIRROR" >&2
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  wheel="$(ls "$root"/usr/share/python-wheels/pip-*.whl)"
  # pip runs from its own wheel to install itself (and setuptools) into /usr/local, offline.
  in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"; }
  in_root python3 "${wheel#"$root"}/pip" install --quiet --no-index \
    --find-links /usr/share/python-wheels pip setuptools >&2
  in_root python -m pip --version >&2
  # What a slim image leaves out: apt's lists and caches, documentation, locales.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
    "$root"/var/log/* "$root"/tmp/*
  find "$root" -name __pycache__ -prune -exec rm -rf {} +
  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

log "committing $image from $tarball"
container="$(buildah from scratch)"
mnt="$(buildah mount "$container")"
tar --numeric-owner --xattrs -C "$mnt" -xf "$tarball"
buildah umount "$container" >/dev/null
buildah config --created-by "debootstrap --variant=minbase $RELEASE with $PACKAGES; pip from its wheel" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd python3 \
  --label org.opencontainers.image.description="Local stand-in for python:3.11-slim-${RELEASE}" \
  "$container"
buildah commit --quiet --rm "$container" "$image" >/dev/null
container=""
echo "$image"
