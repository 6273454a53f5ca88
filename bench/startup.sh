#!/usr/bin/env bash
# CLI start-up: where the time before a stix command's first line goes (see BENCHMARKS.md, "CLI start-up").
# Everything is measured in one hyperfine run per table against a Go hello-world built the same way, so the
# ratios hold on a loaded machine. Instructions (callgrind) and page faults (perf) are printed when valgrind and
# perf are installed; they do not depend on the load.
# Needs hyperfine. Usage: bench/startup.sh [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}; mkdir -p "$out"
build() { CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$@"; }
make build >/dev/null
build "$out/hello" ./bench/hello
build "$out/initonly" ./bench/initonly
build "$out/sqlitestatus" ./bench/sqlitestatus
build "$out/httpstatus" ./bench/httpstatus

# deps-only binaries: a hello-world that links one of stix's dependencies, or all of them, or all but one
# (name:import+import...; pkg/sftp goes with x/crypto/ssh, which it imports).
deps=(sqlite:modernc.org/sqlite ssh:golang.org/x/crypto/ssh+github.com/pkg/sftp yaml:go.yaml.in/yaml/v3
  pgx:github.com/jackc/pgx/v5/stdlib http:net/http cobra:github.com/spf13/cobra)
imports() { echo "${1#*:}" | tr + ' '; } # the imports of one deps entry
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
variant() { # name imports...
  local name=$1; shift
  mkdir -p "$src/$name"
  { printf 'package main\n\nimport (\n\t"fmt"\n\n'; printf '\t_ "%s"\n' "$@"; printf ')\n\nfunc main() { fmt.Println("hello") }\n'; } >"$src/$name/main.go"
  build "$out/$name" "$src/$name/main.go"
}
all=(); for d in "${deps[@]}"; do all+=($(imports "$d")); done
variant alldeps "${all[@]}"
for d in "${deps[@]}"; do
  variant "only-${d%%:*}" $(imports "$d")
  rest=(); for e in "${deps[@]}"; do [ "$e" = "$d" ] || rest+=($(imports "$e")); done
  variant "no-${d%%:*}" "${rest[@]}"
done

export STIX_HOME=$(mktemp -d)
trap '"$PWD/bin/stix" api stop >/dev/null 2>&1 || true; rm -rf "$src" "$STIX_HOME"' EXIT
go run ./bench/seed -home "$STIX_HOME" -n 100
stix=$PWD/bin/stix

hyperfine -N --warmup 30 --runs 300 --export-markdown "$out/startup.md" --export-json "$out/startup.json" \
  -n 'Go hello-world' "$out/hello" -n 'init-only (links stix, main returns)' "$out/initonly" \
  -n 'stix --help' "$stix --help" -n 'stix status (100 clusters)' "$stix status" \
  -n 'SQLite-only status (bench/sqlitestatus)' "$out/sqlitestatus"
# status through a warm local API server: stix itself, and the least a client can do (bench/httpstatus). The
# endpoint is in the environment of the whole run (hyperfine -N runs no `env`), so the embedded status is not in it.
endpoint=$("$stix" api start --port 0 2>/dev/null)
STIX_API_SERVER_ENDPOINT=$endpoint hyperfine -N --warmup 30 --runs 300 --export-markdown "$out/server.md" \
  --export-json "$out/server.json" -n 'Go hello-world' "$out/hello" \
  -n 'stix status (local API server)' "$stix status" -n 'net/http-only status (bench/httpstatus)' "$out/httpstatus"
"$stix" api stop >/dev/null
only=(); for d in "${deps[@]}"; do only+=(-n "hello + $(imports "$d")" "$out/only-${d%%:*}"); done
hyperfine -N --warmup 30 --runs 200 --export-markdown "$out/deps-alone.md" --export-json "$out/deps-alone.json" \
  -n 'Go hello-world' "$out/hello" "${only[@]}" -n 'hello + all of them' "$out/alldeps"
lo=(); for d in "${deps[@]}"; do lo+=(-n "all but $(imports "$d")" "$out/no-${d%%:*}"); done
hyperfine -N --warmup 30 --runs 200 --export-markdown "$out/deps-but-one.md" --export-json "$out/deps-but-one.json" \
  -n 'Go hello-world' "$out/hello" -n 'hello + all deps' "$out/alldeps" "${lo[@]}"

# Load-independent counts: user-space instructions (callgrind) and page faults (perf stat), per binary.
{
  echo "| binary | instructions | page faults | size |"
  echo "|---|---|---|---|"
  for b in hello initonly "stix --help" "stix status" sqlitestatus alldeps $(for d in "${deps[@]}"; do echo "only-${d%%:*} no-${d%%:*}"; done); do
    case $b in stix*) cmd=($stix ${b#stix }); file=$stix ;; *) cmd=("$out/$b"); file=$out/$b ;; esac
    ir=-; pf=-
    if command -v valgrind >/dev/null; then
      # The least of three: valgrind runs one thread at a time, and a scheduler thread left spinning on a busy
      # machine now and then adds millions of instructions to a run.
      ir=$(for _ in 1 2 3; do GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "${cmd[@]}" 2>&1 >/dev/null | awk '/refs:/ {gsub(",", "", $NF); print $NF}'; done | sort -n | head -1)
    fi
    if command -v perf >/dev/null; then
      pf=$(for _ in 1 2 3 4 5; do perf stat -x, -e page-faults "${cmd[@]}" 2>&1 >/dev/null | cut -d, -f1; done | sort -n | head -1)
    fi
    echo "| $b | $ir | $pf | $(stat -c %s "$file") |"
  done
} | tee "$out/counts.md"
# Medians and minimums resist a loaded machine better than means: print both as ratios to the hello-world.
for t in startup server deps-alone deps-but-one; do
  python3 - "$out/$t.json" <<'PY' | tee "$out/$t-ratios.md"
import json, statistics, sys
rs = json.load(open(sys.argv[1]))["results"]
base = rs[0]
print("| command | median | ratio | min | ratio |\n|---|---|---|---|---|")
for r in rs:
    med, bmed = statistics.median(r["times"]), statistics.median(base["times"])
    print(f"| {r['command']} | {med*1e3:.2f} ms | {med/bmed:.2f} | {r['min']*1e3:.2f} ms | {r['min']/base['min']:.2f} |")
PY
done
echo "results in $out"
