#!/usr/bin/env bash
# CLI latency benchmarks, each against a baseline measured in the same run (see BENCHMARKS.md).
# Needs hyperfine (apt-get install hyperfine). Usage: bench/cli.sh [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}; mkdir -p "$out"
make build >/dev/null
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$out/hello" ./bench/hello
export PATH="$PWD/bin:$PATH" STIX_AGENT_BIN="$PWD/bin/stix-agent"
corpus=$(find ../shared/compat/skypilot-yamls -name '*.yaml' -o -name '*.yml' | sort)

export STIX_HOME=$(mktemp -d)
go run ./bench/seed -home "$STIX_HOME" -n 100
trap 'STIX_HOME=$STIX_HOME stix down -a -y --purge >/dev/null 2>&1 || true; rm -rf "$STIX_HOME"' EXIT
stix launch -y -c benchc 'true' >/dev/null 2>&1

hyperfine -N --warmup 20 --runs 200 --export-markdown "$out/help.md" \
  -n 'Go hello-world' "$out/hello" 'stix --help'
hyperfine -N --warmup 3 --runs 30 --export-markdown "$out/validate.md" \
  -n /bin/true '/bin/true' -n 'stix validate <corpus, 248 files>' "stix validate $(echo $corpus | tr '\n' ' ')" -i
hyperfine -N --warmup 10 --runs 100 --export-markdown "$out/status.md" \
  -n 'Go hello-world' "$out/hello" 'stix status'
hyperfine -N --warmup 10 --runs 100 --export-markdown "$out/exec.md" \
  "bash -c true" "stix exec -d benchc true"
echo "results in $out"
