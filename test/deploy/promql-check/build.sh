#!/usr/bin/env bash
# Builds promql-check (main.go: Prometheus's own PromQL parser and rule-file validation, the code
# `promtool check rules` runs, without the rest of promtool) once into a cache outside the checkout and
# prints the binary's path. Later runs find it and return at once; a change to main.go, go.mod or
# go.sum builds a new one.
#
#   test/deploy/promql-check/build.sh [CACHE]      default ~/.cache/castellan/promql-check
#
# Measured on the shared 2-core machine (2026-12-05, load average ~10), empty cache: 112 s wall, 39 s
# CPU, 290 MB RSS, 156 MB of modules and 170 MB of build cache; an 8 MB binary. promtool itself
# (go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0) took 15 min wall, 418 s CPU,
# 3.4 GB RSS and 3.6 GB of caches for an 84 MB binary: too heavy for a test dependency.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-${CASTELLAN_PROMQL_CHECK_CACHE:-$HOME/.cache/castellan/promql-check}}
command -v go >/dev/null || { echo "promql-check: go is not installed" >&2; exit 3; }
stamp=$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
bin=$cache/bin/promql-check-$stamp
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/bin"
  export GOMODCACHE=${GOMODCACHE:-$cache/gomod} GOCACHE=${GOCACHE:-$cache/gobuild}
  export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
  tmp=$bin.$$.tmp
  (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp" .) >&2
  mv "$tmp" "$bin"
fi
echo "$bin"
