#!/usr/bin/env bash
# Assembles, once, the two base images the Dockerfile names, in local container storage, because no
# container registry is reachable here (docs/image.md, "Building without a registry"):
#
#   docker.io/library/node:20-bookworm          build stage: Debian bookworm (debootstrap minbase plus
#                                               python3, make, g++ for node-gyp) and this host's Node 20
#                                               in /usr/local, as the official image lays it out
#   gcr.io/distroless/nodejs20-debian12:nonroot runtime stage: only glibc, libgcc, libstdc++, CA
#                                               certificates and Node at /nodejs/bin/node, user 65532,
#                                               no shell, as distroless lays it out
#
# They are stand-ins with the same layout as the published images, not copies of them. Both are
# cached as OCI archives in ~/.cache/castellan/image (CASTELLAN_IMAGE_CACHE) keyed by this script
# and the host's Node version, so later runs only `podman load` them (or find them in storage).
#
#   test/image/build-base.sh        prints the two image names on stdout
set -euo pipefail
cache=${CASTELLAN_IMAGE_CACHE:-$HOME/.cache/castellan/image}
mirror=${CASTELLAN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
build_image=docker.io/library/node:20-bookworm
runtime_image=gcr.io/distroless/nodejs20-debian12:nonroot
say() { echo "build-base: $*" >&2; }
for tool in podman debootstrap node; do command -v "$tool" >/dev/null || { say "$tool is not installed"; exit 3; }; done
[ "$(id -u)" = 0 ] || { say "debootstrap and rootful podman need root"; exit 3; }
node_bin=$(command -v node)
node_version=$(node --version)
case "$node_version" in v20.*) ;; *) say "host Node is $node_version; the images are for Node 20"; exit 3 ;; esac
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
node_include=$(cd "$(dirname "$node_bin")/../include/node" 2>/dev/null && pwd || true)
[ -f "$node_include/node_api.h" ] || { say "no Node headers next to $node_bin (../include/node): node-gyp needs them"; exit 3; }
key=$( (cat "$0"; echo "$node_version"; sha256sum "$node_bin") | sha256sum | cut -c1-16)
mkdir -p "$cache"
# One assembly at a time (parallel test runs share the cache and the image names).
exec 9>"$cache/.lock"
flock 9
archive() { echo "$cache/$1-$key.oci.tar"; }
have() { [ "$(podman image inspect --format '{{index .Labels "io.castellan.base-key"}}' "$1" 2>/dev/null)" = "$key" ]; }

if have "$build_image" && have "$runtime_image"; then
  echo "$build_image"; echo "$runtime_image"; exit 0
fi
if [ -s "$(archive build)" ] && [ -s "$(archive runtime)" ]; then
  # The archives carry the image names (podman save --format oci-archive NAME).
  podman load -q -i "$(archive build)" >&2
  podman load -q -i "$(archive runtime)" >&2
  if have "$build_image" && have "$runtime_image"; then echo "$build_image"; echo "$runtime_image"; exit 0; fi
  say "the cached archives did not load; rebuilding"
fi

start=$SECONDS
work=$(mktemp -d /var/tmp/castellan-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/bookworm
say "debootstrap bookworm (minbase + python3 make g++) from $mirror"
debootstrap --variant=minbase --include=python3,make,g++,ca-certificates bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { say "debootstrap failed:"; tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# The build image: Node, npm and the headers in /usr/local, like the official image.
install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
cp -a "$node_include" "$root/usr/local/include/node"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
tar -C "$root" -c . | podman import -q \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  --change "LABEL io.castellan.base-key=$key" --change 'LABEL io.castellan.base=build' \
  - "$build_image" >&2

# The runtime image: the files of the few packages Node needs, nothing that runs a shell.
rt=$work/runtime
mkdir -p "$rt/usr/lib" "$rt/usr/lib64" "$rt/usr/bin" "$rt/usr/sbin"
# usrmerge: /lib, /lib64, /bin, /sbin are symlinks into /usr on bookworm; package lists name the old paths.
for l in lib lib64 bin sbin; do [ -L "$root/$l" ] && cp -a "$root/$l" "$rt/$l"; done
for pkg in libc6 libgcc-s1 libstdc++6 ca-certificates tzdata netbase; do
  list=$(ls "$root/var/lib/dpkg/info/$pkg.list" "$root/var/lib/dpkg/info/$pkg:amd64.list" 2>/dev/null | head -1 || true)
  [ -n "$list" ] || { [ "$pkg" = tzdata ] || [ "$pkg" = netbase ] && continue; say "package $pkg missing from the bootstrap"; exit 1; }
  while IFS= read -r f; do
    [ -e "$root$f" ] || [ -L "$root$f" ] || continue
    [ -d "$root$f" ] && [ ! -L "$root$f" ] && { mkdir -p "$rt$f"; continue; }
    mkdir -p "$rt$(dirname "$f")"; cp -a "$root$f" "$rt$f"
  done < "$list"
done
cp -a "$root/etc/ssl" "$rt/etc/"
cp -a "$root/etc/ld.so.cache" "$rt/etc/" 2>/dev/null || true
rm -rf "$rt/usr/share/doc" "$rt/usr/share/man" "$rt/usr/share/lintian" "$rt/usr/share/locale" "$rt/usr/sbin" "$rt/sbin" "$rt/bin"
find "$rt" -name '*.sh' -path '*/usr/bin/*' -delete
rm -f "$rt"/usr/bin/* "$rt"/usr/sbin/* 2>/dev/null || true
install -D -m 0755 "$node_bin" "$rt/nodejs/bin/node"
mkdir -p "$rt/tmp" "$rt/home/nonroot" "$rt/etc"
chmod 1777 "$rt/tmp"; chown 65532:65532 "$rt/home/nonroot"; chmod 0700 "$rt/home/nonroot"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$rt/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$rt/etc/group"
! ls "$rt"/bin/sh "$rt"/usr/bin/sh >/dev/null 2>&1 || { say "the runtime image has a shell"; exit 1; }
tar -C "$rt" -c . | podman import -q \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
  --change "LABEL io.castellan.base-key=$key" --change 'LABEL io.castellan.base=runtime' \
  - "$runtime_image" >&2

podman save -q --format oci-archive -o "$(archive build).tmp" "$build_image" && mv "$(archive build).tmp" "$(archive build)"
podman save -q --format oci-archive -o "$(archive runtime).tmp" "$runtime_image" && mv "$(archive runtime).tmp" "$(archive runtime)"
find "$cache" -name '*.oci.tar' ! -name "*-$key.oci.tar" -delete
say "base images assembled in $((SECONDS - start)) s (cache: $cache)"
echo "$build_image"; echo "$runtime_image"
