#!/usr/bin/env bash
# Builds SPIRE's spire-server and spire-agent (the reference SPIFFE implementation, for interop tests and
# bench:peers) from the Go module proxy, once, into a cache outside the checkout (default
# ~/.cache/castellan/spire). Prints the bin directory on stdout. Exit 3 when Go is missing.
#
#   test/spire/build.sh [CACHE]
#
# SPIRE's main module has replace directives, so `go install module@version` is refused; a scratch
# module that requires it as a tool (`go get -tool`) resolves the same dependency graph, and
# `go install` of the command inside that module builds it.
set -euo pipefail
cache=${1:-${CASTELLAN_SPIRE_CACHE:-$HOME/.cache/castellan/spire}}
version=${CASTELLAN_SPIRE_VERSION:-v1.13.3}
mkdir -p "$cache/bin"
cache=$(cd "$cache" && pwd)
say() { echo "spire-build: $*" >&2; }
command -v go >/dev/null || { say "go is not installed: cannot build SPIRE"; exit 3; }
export GOMODCACHE=${GOMODCACHE:-$cache/gomod} GOCACHE=${GOCACHE:-$cache/gobuild}
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOBIN=$cache/bin.tmp
have() { [ -x "$cache/bin/spire-server" ] && [ -x "$cache/bin/spire-agent" ] && [ "$(cat "$cache/bin/spire.stamp" 2>/dev/null)" = "$version" ]; }
if ! have; then
  start=$SECONDS
  work=$cache/work
  rm -rf "$work" "$GOBIN"; mkdir -p "$work" "$GOBIN"
  (cd "$work" && go mod init castellan.test/spire >/dev/null 2>&1 \
    && go get -tool "github.com/spiffe/spire/cmd/spire-server@$version" >"$work/get.log" 2>&1 \
    && go get -tool "github.com/spiffe/spire/cmd/spire-agent@$version" >>"$work/get.log" 2>&1 \
    && go install github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent >>"$work/get.log" 2>&1) \
    || { say "build failed:"; tail -20 "$work/get.log" >&2; exit 1; }
  mv "$GOBIN/spire-server" "$GOBIN/spire-agent" "$cache/bin/"
  echo "$version" > "$cache/bin/spire.stamp"
  rm -rf "$work" "$GOBIN"
  say "SPIRE $version built in $((SECONDS - start)) s"
fi
echo "$cache/bin"
