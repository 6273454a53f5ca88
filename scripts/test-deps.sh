#!/usr/bin/env bash
# Installs what the test suite needs on this machine when it can, and names exactly what it cannot.
# `make test` and .ci/run call it before any test runs; it exits 1 when something the tests need is missing.
#   - openssh-server: the SSH transport's tests run real sshd hosts (internal/testutil/sshhost).
#   - busybox-static: the Docker node image is built from the host's bash and a static busybox.
#   - postgresql: the store's tests and an end-to-end test run a real PostgreSQL server (internal/testutil/pgtest,
#     which finds initdb and pg_ctl under /usr/lib/postgresql/*/bin, or $STIX_PG_BINDIR).
#   - python3: the serve tests' replicas run `python3 -m http.server` (a real HTTP server on local infra).
#   - rclone and fuse3 (fusermount3): the storage tests mount buckets on nodes with `rclone mount` (FUSE), as the
#     node agent does for MOUNT and MOUNT_CACHED (docs/storage-mounts.md); the Docker node image copies both in.
#   - chromium: the dashboard's browser tests drive Debian's Chromium (internal/dashboard, chromedp). Installed
#     here as root; otherwise those tests are skipped, unless STIX_REQUIRE_CHROMIUM=1 (CI), which fails them.
#   - ../shared: the shared test data beside the repository (SkyPilot's YAML corpus, the catalog snapshot).
#   - a running Docker Engine: without one the Docker tests are skipped, unless STIX_REQUIRE_DOCKER=1 (CI).
#   - the Kubernetes test control plane (scripts/k8s-plane.sh builds it once into ~/.cache/stix, about 17 minutes
#     on 2 cores; a warm machine pays nothing): built here when STIX_REQUIRE_K8S=1 (CI); otherwise its tests are
#     skipped until it has been built.
#   - the storage test servers (scripts/storage-servers.sh builds MinIO and fake-gcs-server once into ~/.cache/stix,
#     about 7 minutes on 2 cores; a warm machine pays nothing): built here when STIX_REQUIRE_STORAGE=1 (CI);
#     otherwise the storage tests against them are skipped until they have been built.
# Paths and the user id can be overridden (TEST_DEPS_*) so that the script itself can be tested.
set -euo pipefail
cd "$(dirname "$0")/.."
sshd=${TEST_DEPS_SSHD:-/usr/sbin/sshd}
busybox=${TEST_DEPS_BUSYBOX:-/bin/busybox}
shared=${TEST_DEPS_SHARED:-../shared}
uid=${TEST_DEPS_UID:-$(id -u)}
pgbins=${TEST_DEPS_PG_BINS:-${STIX_PG_BINDIR:-/usr/lib/postgresql/*/bin}}

need=()
[ -x "$sshd" ] || need+=(openssh-server)
[ -x "$busybox" ] || need+=(busybox-static)
have_pg=
for d in $pgbins; do [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && have_pg=1; done
[ -n "$have_pg" ] || need+=(postgresql)
command -v "${TEST_DEPS_PYTHON3:-python3}" >/dev/null || need+=(python3)
command -v "${TEST_DEPS_RCLONE:-rclone}" >/dev/null || need+=(rclone)
command -v "${TEST_DEPS_FUSERMOUNT:-fusermount3}" >/dev/null || need+=(fuse3)
missing=()
if ! command -v "${TEST_DEPS_CHROMIUM:-chromium}" >/dev/null; then
  if [ "$uid" = 0 ] && command -v apt-get >/dev/null; then
    need+=(chromium)
  elif [ "${STIX_REQUIRE_CHROMIUM:-}" = 1 ]; then
    missing+=("package chromium: not installed (STIX_REQUIRE_CHROMIUM=1 requires it) and this is not root with apt-get; run: sudo apt-get install -y chromium")
  else
    echo "test-deps: note: no chromium; the dashboard's browser tests will be skipped (CI requires them)" >&2
  fi
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$uid" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-deps: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    for p in "${need[@]}"; do
      missing+=("package $p: not installed and this is not root with apt-get; run: sudo apt-get install -y $p")
    done
  fi
fi
if [ ! -d "$shared/compat" ] || [ ! -d "$shared/catalogs" ]; then
  missing+=("$shared: the shared test data (compat/ YAML corpus, catalogs/ snapshot) is not beside the repository; put it, or a symlink to it, at $shared")
fi
if ! { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
  if [ "${STIX_REQUIRE_DOCKER:-}" = 1 ]; then
    missing+=("Docker Engine: none is running (STIX_REQUIRE_DOCKER=1 requires one); start dockerd")
  else
    echo "test-deps: note: no running Docker Engine; the Docker tests will be skipped (CI requires them)" >&2
  fi
fi
if [ "${STIX_REQUIRE_K8S:-}" = 1 ]; then
  if ! ${TEST_DEPS_K8S_PLANE:-scripts/k8s-plane.sh} >/dev/null; then
    missing+=("Kubernetes test control plane: scripts/k8s-plane.sh failed to build it (STIX_REQUIRE_K8S=1 requires it); run it to see why")
  fi
fi
if [ "${STIX_REQUIRE_STORAGE:-}" = 1 ]; then
  if ! ${TEST_DEPS_STORAGE_SERVERS:-scripts/storage-servers.sh} >/dev/null; then
    missing+=("storage test servers: scripts/storage-servers.sh failed to build MinIO or fake-gcs-server (STIX_REQUIRE_STORAGE=1 requires them); run it to see why")
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: the tests cannot run here until these are fixed:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
