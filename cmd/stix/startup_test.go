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

// linkedModules is every module the stix binary links, with what its package inits allocate on every command
// (GODEBUG=inittrace=1, bytes, summed over the module's packages) and why the CLI pays for it. Go runs the init
// of every linked package before main, whatever the command, so a module enters this table only with its cost
// measured: a module missing here, or one allocating more at init than its budget, fails TestCLIDependencies
// or TestCLIInitIsLight.
// Allocation bytes are the stable measure; BENCHMARKS.md ("CLI start-up") has the instructions and page faults
// behind them: x/crypto/ssh's key-exchange tables (big.Int primes, every NIST curve) are the largest init,
// then pgx's x/text and encoding/xml, yaml.v3's resolver regexps, modernc's libc and go-humanize tables.
var linkedModules = map[string]struct {
	budget int // bytes its package inits may allocate in all
	why    string
}{
	"std":                              {112 << 10, "the standard library (net/http, crypto/tls, text/template, html/template for the API server's dashboard: 18 KB, ...): 99 KB"},
	"github.com/stix-run/stix":         {18 << 10, "stix itself: 16.0–16.5 KB (a map's size varies with its hash seed; 16 KB failed 1 run in 3): catalog tables 9 KB, the rest lazy (lazyregexp, sync.OnceValue)"},
	"go.yaml.in/yaml/v3":               {32 << 10, "task YAML; its resolver compiles regexps at init: 25 KB"},
	"golang.org/x/crypto":              {24 << 10, "SSH to cluster nodes; key-exchange tables at init: 19 KB"},
	"github.com/dustin/go-humanize":    {12 << 10, "pulled by modernc.org/libc: 9 KB"},
	"golang.org/x/text":                {10 << 10, "pulled by pgx (SASLprep): 8 KB"},
	"github.com/jackc/pgx/v5":          {10 << 10, "the PostgreSQL store (issue 10): 7 KB"},
	"github.com/jackc/pgpassfile":      {4 << 10, "pulled by pgx: 3 KB"},
	"github.com/jackc/pgservicefile":   {1 << 10, "pulled by pgx: no init"},
	"github.com/jackc/puddle/v2":       {1 << 10, "pulled by pgx: no init"},
	"modernc.org/sqlite":               {2 << 10, "the state database, pure Go: 1 KB"},
	"modernc.org/libc":                 {4 << 10, "pulled by modernc.org/sqlite: 2 KB"},
	"modernc.org/mathutil":             {1 << 10, "pulled by modernc.org/sqlite"},
	"modernc.org/memory":               {1 << 10, "pulled by modernc.org/sqlite: no init"},
	"github.com/remyoudompheng/bigfft": {1 << 10, "pulled by modernc.org/mathutil: no init"},
	"github.com/google/uuid":           {1 << 10, "pulled by modernc.org/libc: no init"},
	"github.com/spf13/cobra":           {2 << 10, "the command tree"},
	"github.com/spf13/pflag":           {1 << 10, "cobra's flags"},
	"github.com/pkg/sftp":              {1 << 10, "file transfer to cluster nodes"},
	"github.com/kr/fs":                 {1 << 10, "pulled by pkg/sftp: no init"},
	"golang.org/x/sync":                {1 << 10, "pulled by pgx: no init"},
	"golang.org/x/sys":                 {1 << 10, "no init of note"},
	"golang.org/x/term":                {1 << 10, "terminal detection and password prompts: no init"},
	// The AWS provider (issue 14): EC2 and the SDK's default credential chain (package config, which links the
	// STS, SSO, SSO OIDC and sign-in clients). Each service client builds its endpoint table and schema at init;
	// together 678 KB in 5,158 allocations, measured with GODEBUG=inittrace=1 stix --help (docs/aws.md).
	"github.com/aws/aws-sdk-go-v2":                                  {24 << 10, "AWS SDK core (aws, internal/*): 16 KB"},
	"github.com/aws/aws-sdk-go-v2/config":                           {1 << 10, "the default credential chain: no init"},
	"github.com/aws/aws-sdk-go-v2/credentials":                      {1 << 10, "pulled by config: no init"},
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds":                 {1 << 10, "instance-role credentials, pulled by config: no init"},
	"github.com/aws/aws-sdk-go-v2/internal/configsources":           {1 << 10, "pulled by config: no init"},
	"github.com/aws/aws-sdk-go-v2/internal/endpoints/v2":            {12 << 10, "endpoint rules: 8 KB"},
	"github.com/aws/aws-sdk-go-v2/internal/v4a":                     {4 << 10, "SigV4a signing: 2 KB"},
	"github.com/aws/aws-sdk-go-v2/service/ec2":                      {100 << 10, "the EC2 client; its endpoint table: 92 KB"},
	"github.com/aws/aws-sdk-go-v2/service/internal/accept-encoding": {1 << 10, "pulled by ec2: no init"},
	"github.com/aws/aws-sdk-go-v2/service/internal/presigned-url":   {1 << 10, "pulled by ec2: no init"},
	"github.com/aws/aws-sdk-go-v2/service/signin":                   {152 << 10, "console sign-in credentials, pulled by config: 146 KB"},
	"github.com/aws/aws-sdk-go-v2/service/sso":                      {108 << 10, "SSO credentials, pulled by config: 102 KB"},
	"github.com/aws/aws-sdk-go-v2/service/ssooidc":                  {140 << 10, "SSO token refresh, pulled by config: 136 KB"},
	"github.com/aws/aws-sdk-go-v2/service/sts":                      {172 << 10, "assumed roles and web identity, pulled by config: 166 KB"},
	"github.com/aws/smithy-go":                                      {20 << 10, "the SDK's runtime: 14 KB"},
	// The Azure provider (issue 17): azcore and the resources, network and compute ARM clients; tokens are made
	// by stix (internal/cloud/azure/credential.go), not azidentity, whose MSAL dependency alone spent ~0.5 ms of
	// init clock. Together 29 KB in ~330 allocations, measured with GODEBUG=inittrace=1 stix --help (docs/azure.md).
	"github.com/Azure/azure-sdk-for-go/sdk/azcore":                                 {4 << 10, "the SDK's runtime and cloud table: 2.5 KB"},
	"github.com/Azure/azure-sdk-for-go/sdk/internal":                               {8 << 10, "pulled by azcore (log, transport): 5.5 KB"},
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7":  {6 << 10, "the VM client: 3.6 KB"},
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7":  {6 << 10, "vnet, NSG, IP, NIC clients: 3.6 KB"},
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources": {6 << 10, "the resource group client: 3.6 KB"},
	"golang.org/x/net": {12 << 10, "HTTP/2 (hpack tables), pulled by azcore: 10 KB"},
}

// Whole-binary and per-package bounds on what init allocates. Without the AWS SDK all inits together allocate
// ~172 KB in 1,373 allocations (yaml.v3 alone 25 KB); the AWS SDK's service clients bring that to ~850 KB in
// 6,531 (their endpoint tables and schemas are up to 92 KB per package); the Azure SDK adds 29 KB (~900 KB in
// all); before the first start-up work the JSON Schema library alone allocated 1.7 MB.
const (
	maxInitBytesPerPackage = 96 << 10
	maxInitBytesTotal      = 928 << 10
)

// TestCLIDependencies: the binary links no forbidden package, and exactly the modules of linkedModules.
func TestCLIDependencies(t *testing.T) {
	t.Parallel()
	modules := map[string]bool{}
	found := map[string][]string{}
	for pkg, mod := range linkedPackages(t) {
		modules[mod] = true
		if f := forbidden(pkg); f != "" {
			found[f] = append(found[f], pkg)
		}
	}
	for _, f := range forbiddenDeps {
		if pkgs := found[f]; len(pkgs) > 0 {
			t.Errorf("stix links %s, forbidden for its init cost: %s", f, strings.Join(pkgs, " "))
		}
	}
	for mod := range modules {
		if _, ok := linkedModules[mod]; !ok {
			t.Errorf("stix links module %s, which linkedModules does not list: every command runs its package inits; "+
				"measure them (GODEBUG=inittrace=1 stix --help, and BENCHMARKS.md's start-up commands) and add it with its "+
				"budget, or keep it out of the binary", mod)
		}
	}
	for mod := range linkedModules {
		if !modules[mod] {
			t.Errorf("linkedModules lists %s, which stix no longer links: remove the entry", mod)
		}
	}
}

// linkedPackages maps every package the stix binary links to its module ("std" for the standard library).
func linkedPackages(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{else}}std{{end}}",
		"github.com/stix-run/stix/cmd/stix").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, mod, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("unexpected go list line %q", line)
		}
		pkgs[pkg] = mod
	}
	return pkgs
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

// TestCLIInitIsLight runs the built binary with GODEBUG=inittrace=1 and bounds what its package inits allocate:
// per package, per module (linkedModules' budgets) and in all.
func TestCLIInitIsLight(t *testing.T) {
	t.Parallel()
	modOf := linkedPackages(t)
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
		byModule := map[string]int{}
		for _, r := range recs {
			total += r.bytes
			byModule[moduleOf(modOf, r.pkg)] += r.bytes
			if r.bytes > maxInitBytesPerPackage {
				t.Errorf("stix %s: init of %s allocates %d bytes in %d allocations (bound %d): move the work to first use",
					strings.Join(args, " "), r.pkg, r.bytes, r.allocs, maxInitBytesPerPackage)
			}
		}
		for mod, b := range byModule {
			m, ok := linkedModules[mod]
			if !ok {
				t.Errorf("stix %s: %s allocates %d bytes at init and is not in linkedModules", strings.Join(args, " "), mod, b)
			} else if b > m.budget {
				t.Errorf("stix %s: the inits of module %s allocate %d bytes (budget %d in linkedModules): move the work "+
					"to first use, or measure the cost and raise the budget in BENCHMARKS.md and here", strings.Join(args, " "), mod, b, m.budget)
			}
		}
		if total > maxInitBytesTotal {
			t.Errorf("stix %s: package inits allocate %d bytes in all (bound %d)", strings.Join(args, " "), total, maxInitBytesTotal)
		}
	}
}

// moduleOf returns the module of a package named in an inittrace line; the runtime names the standard library's
// vendored packages "vendor/...", which go list does too.
func moduleOf(modOf map[string]string, pkg string) string {
	if mod, ok := modOf[pkg]; ok {
		return mod
	}
	return "unknown module of " + pkg
}
