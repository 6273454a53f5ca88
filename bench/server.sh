#!/usr/bin/env bash
# API server benchmarks (see BENCHMARKS.md): idle RSS, `stix status` through a warm local server against the
# embedded core, and requests/s of the status route from 100 clients, all with 100 clusters in the DB.
# Needs hyperfine. Usage: bench/server.sh [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}; mkdir -p "$out"
make build >/dev/null
export PATH="$PWD/bin:$PATH" STIX_AGENT_BIN="$PWD/bin/stix-agent"
export STIX_HOME=$(mktemp -d)
go run ./bench/seed -home "$STIX_HOME" -n 100
trap 'stix api stop >/dev/null 2>&1 || true; rm -rf "$STIX_HOME"' EXIT
endpoint=$(stix api start --port 0 2>/dev/null)
pid=$(cat "$STIX_HOME/server/server.pid")
curl -sf "$endpoint/api/health" >/dev/null
echo "idle server RSS (after one health call): $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)" | tee "$out/rss.txt"
hyperfine -N --warmup 10 --runs 100 --export-markdown "$out/status.md" \
  -n 'stix status (embedded)' 'stix status' \
  -n 'stix status (local server)' "env STIX_API_SERVER_ENDPOINT=$endpoint $PWD/bin/stix status"
go run ./bench/load -url "$endpoint/api/v1/clusters" -pid "$pid" -c 100 -d 10s | tee "$out/load.txt"
echo "idle server RSS (after the load): $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)" | tee -a "$out/rss.txt"
