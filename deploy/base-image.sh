#!/usr/bin/env bash
# A local stand-in for the official node:20-bookworm-slim image where no registry is reachable:
# Debian 12 minbase (debootstrap, from the mirror this machine's apt uses) + this machine's Node 20
# (binary, headers, npm) and its CA bundle, committed as localhost/guestkit-node20-base:<key>.
# Two caches: the debootstrap tarball ($GUESTKIT_DEPLOY_CACHE, default /var/cache/guestkit-deploy,
# keyed by the mirror) and the image in buildah's store (keyed by this script, Node's version and
# the mirror), so a rerun costs seconds. Prints the image name on stdout; logs go to stderr.
set -euo pipefail
log() { printf '[base-image] %s\n' "$*" >&2; }

cache=${GUESTKIT_DEPLOY_CACHE:-/var/cache/guestkit-deploy}
node_bin=$(readlink -f "$(command -v node)")
node_prefix=$(dirname "$(dirname "$node_bin")")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
node_version=$("$node_bin" --version)
case "$node_version" in v20.*) ;; *) log "need Node 20 on this machine, found $node_version"; exit 1 ;; esac
[ -f "$node_prefix/include/node/node.h" ] || { log "no Node headers under $node_prefix/include/node"; exit 1; }
# The Debian mirror apt already uses here (deb822 or one-line sources).
mirror=$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -o -E 'https?://[^ ]*/debian/?$|https?://[^ ]*/debian/? ' | tr -d ' ' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
cas=/etc/ssl/certs/ca-certificates.crt
key=$( { cat "$0"; echo "$node_version $mirror"; cat "$cas" /usr/local/share/ca-certificates/*.crt 2>/dev/null; } | sha256sum | cut -c1-16)
image=localhost/guestkit-node20-base:$key

if buildah inspect --type image "$image" >/dev/null 2>&1; then
  log "cached: $image"
  echo "$image"
  exit 0
fi

mkdir -p "$cache"
tarball=$cache/bookworm-minbase-$(echo "v1 $mirror" | sha256sum | cut -c1-16).tar
if [ ! -s "$tarball" ]; then
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'umount -R "$root/proc" "$root/sys" 2>/dev/null || true; rm -rf "$root"' EXIT
  log "debootstrap --variant=minbase bookworm from $mirror (a few minutes, once)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
  # Like the official image: bookworm + updates + security, no apt lists or packages kept.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  # The official image's 'node' user (uid 1000).
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

log "importing $tarball + Node $node_version as $image"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tarball" / >/dev/null
# Node where the official image has it: /usr/local/{bin,include/node,lib/node_modules/npm}.
buildah copy --quiet "$ctr" "$node_bin" /usr/local/bin/node >/dev/null
buildah copy --quiet "$ctr" "$node_prefix/include/node" /usr/local/include/node >/dev/null
buildah copy --quiet "$ctr" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
# This machine reaches the npm registry through a TLS-inspecting egress: its CA bundle goes along,
# and npm is told to use it (a real node image needs neither).
if [ -f "$cas" ]; then
  buildah copy --quiet "$ctr" "$cas" /etc/ssl/certs/ca-certificates.crt >/dev/null
  # update-ca-certificates (the ca-certificates package) rebuilds the bundle: keep the local CAs in it.
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$crt" ] && buildah copy --quiet "$ctr" "$crt" /usr/local/share/ca-certificates/ >/dev/null
  done
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$cache/npmrc"
  buildah copy --quiet "$ctr" "$cache/npmrc" /usr/local/etc/npmrc >/dev/null
fi
buildah run --isolation chroot "$ctr" sh -c 'ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm &&
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version' >&2
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="${node_version#v}" --cmd node "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
echo "$image"
