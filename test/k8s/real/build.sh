#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from the Go module proxy, once, into a cache outside the
# checkout (default ~/.cache/castellan/k8s). Later runs find the binaries and return at once.
#
#   test/k8s/real/build.sh [CACHE]        prints the bin directory on stdout
#
# Facts (docs/testing.md, "A real Kubernetes API server"):
# - k8s.io/kubernetes' go.mod points every k8s.io/* staging module at ./staging/src/..., which its
#   module zip does not carry; the published k8s.io/<module> v0.<minor>.<patch> of the same release
#   is the same code, so the build copies the module source and redirects those replace lines.
# - etcd's server module has replace directives, so `go install` refuses it; a tiny main module
#   calling etcdmain.Main builds the same binary.
set -euo pipefail
cache=${1:-${CASTELLAN_K8S_CACHE:-$HOME/.cache/castellan/k8s}}
k8s=${CASTELLAN_K8S_VERSION:-v1.34.4}
etcd=${CASTELLAN_ETCD_VERSION:-v3.6.13}
mkdir -p "$cache/bin"
cache=$(cd "$cache" && pwd)
bin=$cache/bin
say() { echo "k8s-build: $*" >&2; }
command -v go >/dev/null || { say "go is not installed: cannot build kube-apiserver"; exit 3; }

export GOMODCACHE=${GOMODCACHE:-$cache/gomod} GOCACHE=${GOCACHE:-$cache/gobuild}
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

stamped() { [ -x "$bin/$1" ] && [ "$(cat "$bin/$1.stamp" 2>/dev/null)" = "$2" ]; }

if ! stamped kube-apiserver "$k8s"; then
  start=$SECONDS
  moddir=$(go mod download -json "k8s.io/kubernetes@$k8s" | grep -o '"Dir": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
  [ -n "$moddir" ] && [ -d "$moddir" ] || { say "module k8s.io/kubernetes@$k8s not downloaded"; exit 1; }
  work=$cache/work/kubernetes-$k8s
  rm -rf "$work"; mkdir -p "$(dirname "$work")"
  cp -R "$moddir" "$work"; chmod -R u+w "$work"
  rm -f "$work/go.work" "$work/go.work.sum"
  staging=v0.${k8s#v1.}
  awk -v v="$staging" '
    $2 == "=>" && $3 ~ /^\.\/staging\/src\/k8s\.io\// { print "\t" $1 " => " $1 " " v; next }
    { print }' "$work/go.mod" > "$work/go.mod.new"
  mv "$work/go.mod.new" "$work/go.mod"
  ! grep -q '\./staging/' "$work/go.mod" || { say "go.mod still points at ./staging"; exit 1; }
  minor=${k8s#v1.}; minor=${minor%%.*}
  flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags="$flags -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$work" && go build -mod=mod -trimpath -ldflags "$flags" -o "$bin/kube-apiserver.tmp" ./cmd/kube-apiserver 2>&1 | grep -v '^go: downloading' >&2 || true)
  [ -x "$bin/kube-apiserver.tmp" ] || { say "kube-apiserver build failed"; exit 1; }
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
  echo "$k8s" > "$bin/kube-apiserver.stamp"
  rm -rf "$work"
  say "kube-apiserver $k8s built in $((SECONDS - start)) s"
fi

if ! stamped etcd "$etcd"; then
  start=$SECONDS
  work=$cache/work/etcd-$etcd
  rm -rf "$work"; mkdir -p "$work"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > "$work/main.go"
  (cd "$work" && go mod init castellan.test/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@$etcd" >/dev/null 2>&1 \
    && go mod tidy >/dev/null 2>&1 \
    && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" .) || { say "etcd build failed"; exit 1; }
  mv "$bin/etcd.tmp" "$bin/etcd"
  echo "$etcd" > "$bin/etcd.stamp"
  rm -rf "$work"
  say "etcd $etcd built in $((SECONDS - start)) s"
fi
echo "$bin"
