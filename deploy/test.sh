#!/usr/bin/env bash
# Builds deploy/Containerfile with buildah (no container engine runs here) on a local stand-in for
# node:20-bookworm-slim (deploy/base-image.sh), then inside the image: `guestkit-worker --version`,
# the bundled sample job through the daemon, and an inspect of a fixture image (a real appliance
# launch under TCG, from the appliance cache built into the image). Prints the build time and the
# image size. Exits non-zero on any failure; a missing buildah is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[deploy-test] %s\n' "$*" >&2; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { log "$tool is missing (scripts/setup installs it)"; exit 1; }
done
tag=${GUESTKIT_IMAGE_TAG:-localhost/guestkit-worker:test}

# The addons as prebuilt binaries in the context (scripts/prebuild.mjs's layout): the builder stage
# then skips compiling them; without them it builds from source, as on any other machine.
if [ -f native/guestfs/build/Release/guestkit_guestfs.node ] && [ -f native/sha256/build/Release/guestkit_hash.node ]; then
  for a in sha256:guestkit_hash guestfs:guestkit_guestfs; do
    d=native/${a%%:*} n=${a##*:}
    mkdir -p "$d/prebuilds/linux-x64"
    cp "$d/build/Release/$n.node" "$d/prebuilds/linux-x64/$n.napi.glibc.node"
  done
fi

base=$(deploy/base-image.sh)
start=$(date +%s)
buildah bud --isolation chroot --layers --format docker --quiet \
  --build-arg BASE="$base" -f deploy/Containerfile -t "$tag" . >&2
build_s=$(( $(date +%s) - start ))
size=$(buildah inspect --type image --format '{{.Docker.Size}}' "$tag" 2>/dev/null || true)
[ -n "$size" ] && [ "$size" != 0 ] || size=$(buildah images --noheading --format '{{.Size}}' "$tag")
echo "image: $tag"
echo "build_seconds: $build_s"
echo "image_size: $size"

ctr=$(buildah from "$tag")
tmp=$(mktemp -d)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
run() { buildah run --isolation chroot --user guestkit "$@"; }

# A fixture image (built on the host, cached), copied in before the first `buildah run`: that
# run creates the image's VOLUMEs (images, results, state) from what the container holds then,
# and later runs see the volume, not a file copied into the container afterwards (IMAGE_NOT_FOUND).
# Copied, not bind-mounted: under buildah's chroot isolation a bind mount resolves outside '/' and
# the path confinement refuses it (PATH_NOT_ALLOWED).
fixture=$(scripts/fixtures debian-like | awk '$1 == "debian-like" { print $NF }')
[ -f "$fixture" ] || { log "no fixture image: $fixture"; exit 1; }
buildah copy --quiet --chown guestkit:guestkit "$ctr" "$fixture" /var/lib/guestkit/images/ >/dev/null

echo "version: $(run "$ctr" -- guestkit-worker --version)"

# The bundled sample job, through the daemon's jobs directory, as `scripts/run-sample` does.
run "$ctr" -- sh -c 'set -e; d=$(mktemp -d); mkdir -p $d/jobs $d/results
  cp /opt/guestkit-worker/scripts/sample-jobs/echo-sample.json $d/jobs/
  guestkit-worker daemon --once --jobs-dir $d/jobs --results-dir $d/results --state-dir $d/state \
    --work-dir $d/work --api-enabled false --metrics-enabled false --log-level warn
  cat $d/results/*-result.json' >"$tmp/sample.json"
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (r.status !== "completed") { console.error(r); process.exit(1); }
  console.log(`sample_job: ${r.job_id} ${r.status}`);' "$tmp/sample.json"

# The appliance cache must be used as built. Not judged by modification time: libguestfs touches
# the appliance's files at every launch (so tmp cleaners keep them). A rebuild by supermin writes
# a new folder and renames it into place, so the root file's inode tells.
cache=/var/cache/guestkit/.guestfs-10001/appliance.d
before=$(run "$ctr" -- stat -c %i "$cache/root")
if ! run "$ctr" -- guestkit-worker inspect -o json "/var/lib/guestkit/images/$(basename "$fixture")" >"$tmp/inspect.json"; then
  log "inspect inside the image failed; its output:"
  head -c 4000 "$tmp/inspect.json" >&2
  exit 1
fi
after=$(run "$ctr" -- stat -c %i "$cache/root")
node -e 'const out = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = JSON.stringify(out);
  if (!/debian/i.test(s)) { console.error(s.slice(0, 2000)); process.exit(1); }
  console.log("inspect: debian found in the fixture image");' "$tmp/inspect.json"
if [ "$before" != "$after" ]; then log "the appliance was rebuilt at run time (cache not used)"; exit 1; fi
echo "appliance_cache: reused"
echo "deploy-test: ok"
