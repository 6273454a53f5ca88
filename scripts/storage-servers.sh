#!/usr/bin/env bash
# Builds the storage test servers once and caches them: MinIO (S3) and fake-gcs-server (GCS), both from the Go
# module proxy, each as its own program. MinIO is AGPL: stix never imports it; the tests only run the binary.
# The binaries land in $STIX_CACHE/minio-<version>/minio and $STIX_CACHE/fake-gcs-server-<version>/fake-gcs-server
# (default ~/.cache/stix); a warm machine pays nothing. Prints the two binaries' paths on stdout, one a line.
# internal/testutil/storagetest finds them the same way (or via $STIX_MINIO_BIN and $STIX_FAKE_GCS_BIN).
# Recipe: ../shared/TESTING-INFRA.md section 4. MinIO takes about 7 minutes on 2 idle cores the first time.
set -euo pipefail
# Pinned: `go list -m github.com/minio/minio@latest` on 2026-12-04 (MinIO publishes no semver tags to the proxy).
MINIO=v0.0.0-20260212201848-7aac2a2c5b7c
FAKEGCS=v1.56.1
cache=${STIX_CACHE:-$HOME/.cache/stix}
minio_bin=$cache/minio-$MINIO/minio
gcs_bin=$cache/fake-gcs-server-$FAKEGCS/fake-gcs-server
if [ -x "$minio_bin" ] && [ -x "$gcs_bin" ]; then printf '%s\n%s\n' "$minio_bin" "$gcs_bin"; exit 0; fi
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
mkdir -p "$cache"
work=$(mktemp -d "$cache/storage-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The builds are long and the machines are shared: yield to everything else.
renice -n 10 $$ >/dev/null 2>&1 || true
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod

# build MODULE VERSION DEST: `go install` from a scratch directory (no go.mod of ours around), then an atomic move.
build() {
  local mod=$1 ver=$2 dest=$3
  echo "storage-servers: building $mod@$ver" >&2
  mkdir -p "$(dirname "$dest")" "$work/gobin"
  (cd "$work" && GOBIN="$work/gobin" go install -trimpath -ldflags '-s -w' "$mod@$ver" >&2)
  mv "$work/gobin/$(basename "$mod")" "$dest.tmp" && mv "$dest.tmp" "$dest"
}
[ -x "$gcs_bin" ] || build github.com/fsouza/fake-gcs-server "$FAKEGCS" "$gcs_bin"
[ -x "$minio_bin" ] || build github.com/minio/minio "$MINIO" "$minio_bin"
printf '%s\n%s\n' "$minio_bin" "$gcs_bin"
