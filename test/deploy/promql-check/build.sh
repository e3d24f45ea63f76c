#!/usr/bin/env bash
# Builds promql-check (main.go: Prometheus's own PromQL parser and rule-file validation, the code
# `promtool check rules` runs, without the rest of promtool) once into a cache outside the checkout and
# prints the binary's path. Later runs find it and return at once; a change to main.go, go.mod or
# go.sum builds a new one.
#
#   test/deploy/promql-check/build.sh [CACHE]      default ~/.cache/castellan/promql-check
#
# Measured on the 2-core build machine (2026-12-05): first build ~2 min wall, ~45 s CPU, ~320 MB RSS,
# ~0.9 GB of modules and ~0.2 GB of build cache; the 8 MB binary parses in milliseconds. promtool itself
# (go install .../cmd/promtool) took 15 min wall, 418 s CPU, 3.4 GB RSS and 3.6 GB of caches.
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
