#!/usr/bin/env bash
# Install what `make images` needs from Debian's packages: buildah (builds the Dockerfiles
# without a container engine: `--isolation chroot`, `vfs` storage) and debootstrap (makes the
# local base image). Idempotent: installs only what is missing, and needs root only then.
set -euo pipefail

missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
printf '[image tools] installing %s from Debian\n' "${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
  printf '[image tools] run as root, or install them yourself: apt-get install %s\n' "${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
