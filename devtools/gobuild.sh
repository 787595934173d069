# Shared by the scripts that build a pinned tool from Go modules (sourced, not run): where the
# tool is cached, one build at a time, and the build through a wrapper module.
#
#   tool_cache <dir-name>      $out = the cache directory for this tool and version (made if
#                              missing), locked for this process (a second caller waits on the
#                              lock, then finds the tool built)
#   go_work <tool>             checks that Go is there, exports a reproducible Go environment,
#                              and makes $work, a scratch directory removed at exit
#   wrapper_build <module> <version> <package> <ldflags> <dest>
#                              builds <package> of <module>@<version> into <dest>
#
# Why a wrapper module: `go install <pkg>@<version>` builds with the module's own go.mod and
# refuses any that carry replace or exclude directives. Requiring the module from a small module
# of our own, with the go directive of the module's go.mod, builds it whatever its go.mod holds,
# with the versions it asks for.

cache_root="${SPOT_FAILOVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-failover}"

tool_cache() {
  out="$cache_root/bin/$1"
  mkdir -p "$out"
  exec 9>"$out/.build.lock"
  flock 9
}

go_work() {
  command -v go >/dev/null || { printf '[%s build] Go is needed to build it\n' "$1" >&2; exit 1; }
  export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
}

# The go directive of <module>@<version>'s own go.mod.
go_directive() {
  local gomod
  gomod="$(go mod download -json "$1@$2" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod"
}

wrapper_build() {
  local module="$1" version="$2" package="$3" ldflags="$4" dest="$5" mod
  mod="$(mktemp -d "$work/wrapper.XXXX")"
  printf 'module spotfailover.local/wrapper\n\ngo %s\n\nrequire %s %s\n' \
    "$(go_directive "$module" "$version")" "$module" "$version" >"$mod/go.mod"
  (cd "$mod" && go get "${package}@${version}" >&2 &&
    go build -trimpath -ldflags "$ldflags" -o "$dest.tmp" "$package")
  mv "$dest.tmp" "$dest"
}
