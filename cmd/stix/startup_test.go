package main

// Start-up guards: every stix command pays for the package initialisation of everything the binary links, so
// the CLI must neither link a package known for a heavy init nor let any package do heavy work at init. Both are
// checked by what the binary links and allocates, never by timing (BENCHMARKS.md has the timings).

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbiddenDeps are packages whose own init is heavy (measured with GODEBUG=inittrace=1): the JSON Schema
// library compiles every draft's meta-schema at init (~1.7 MB, 21k allocations), the Docker SDK pulls in image
// reference and digest grammars and OpenTelemetry; Prometheus's Go client registers Go and process collectors
// at init (with procfs and protobuf descriptors: 228 KB, +1.8M instructions on --help). stix validates with its
// own small validator (internal/spec/schema_validate.go), talks to the Engine API with internal/dockerapi and
// writes /metrics with internal/metrics (whose tests parse it with Prometheus's parser, a test-only dependency).
var forbiddenDeps = []string{
	"github.com/santhosh-tekuri/jsonschema",
	"github.com/docker/docker",
	"github.com/distribution/reference",
	"github.com/opencontainers/go-digest",
	"go.opentelemetry.io",
	"github.com/prometheus",
	"google.golang.org/protobuf",
}

// Per-package and whole-binary bounds on what init allocates. Today the largest inits are dependencies' tables
// (yaml.v3 25 KB, x/crypto/ssh 18 KB) and all of them together allocate ~135 KB; before this guard the JSON Schema
// library alone allocated 1.7 MB.
const (
	maxInitBytesPerPackage = 32 << 10
	maxInitBytesTotal      = 192 << 10
)

func TestCLIDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/stix-run/stix/cmd/stix").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	found := map[string][]string{}
	for _, pkg := range strings.Fields(string(out)) {
		if f := forbidden(pkg); f != "" {
			found[f] = append(found[f], pkg)
		}
	}
	for _, f := range forbiddenDeps {
		if pkgs := found[f]; len(pkgs) > 0 {
			t.Errorf("stix links %s, forbidden for its init cost: %s", f, strings.Join(pkgs, " "))
		}
	}
}

// forbidden returns the entry of forbiddenDeps that pkg falls under, or "".
func forbidden(pkg string) string {
	for _, f := range forbiddenDeps {
		if pkg == f || strings.HasPrefix(pkg, f+"/") {
			return f
		}
	}
	return ""
}

// initRecord is one line of GODEBUG=inittrace=1: "init PKG @T ms, C ms clock, B bytes, A allocs".
type initRecord struct {
	pkg    string
	bytes  int
	allocs int
}

func parseInitTrace(t *testing.T, stderr []byte) []initRecord {
	t.Helper()
	var recs []initRecord
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			t.Fatalf("unexpected inittrace line %q", sc.Text())
		}
		recs = append(recs, initRecord{pkg: f[1], bytes: b, allocs: a})
	}
	return recs
}

func TestCLIInitIsLight(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "stix")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--help"}, {"status"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "STIX_HOME="+t.TempDir(), "NO_COLOR=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("stix %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		recs := parseInitTrace(t, stderr.Bytes())
		if len(recs) == 0 {
			t.Fatalf("stix %s printed no inittrace lines:\n%s", strings.Join(args, " "), stderr.Bytes())
		}
		total := 0
		for _, r := range recs {
			total += r.bytes
			if r.bytes > maxInitBytesPerPackage {
				t.Errorf("stix %s: init of %s allocates %d bytes in %d allocations (bound %d): move the work to first use",
					strings.Join(args, " "), r.pkg, r.bytes, r.allocs, maxInitBytesPerPackage)
			}
		}
		if total > maxInitBytesTotal {
			t.Errorf("stix %s: package inits allocate %d bytes in all (bound %d)", strings.Join(args, " "), total, maxInitBytesTotal)
		}
	}
}
