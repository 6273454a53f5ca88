package stix_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stix-run/stix/internal/jobs"
	"github.com/stix-run/stix/internal/jobs/jobstest"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
)

// BenchmarkJobsQueue10k is `stix jobs queue` end to end — a CLI process, over HTTP, to a real `stix api start`
// process whose state database holds 10 000 finished jobs of one user (and 1 000 of another): the whole queue of
// every user (`-a -u`), its JSON (`-a -u -o json`) and the detail view (`-a -u -v`), against the baseline of the
// default queue (the newest 50 jobs) in the same run. BENCHMARKS.md.
func BenchmarkJobsQueue10k(b *testing.B) {
	work := b.TempDir()
	home := filepath.Join(work, ".stix")
	vars := []string{"HOME=" + work, "STIX_HOME=" + home, "NO_COLOR=1",
		"STIX_CATALOG_DIR=" + testutil.SharedDir(b, "catalogs/v7"), "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs"}
	if err := os.MkdirAll(home, 0o700); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, home)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := jobs.OpenStore(st); err != nil {
		b.Fatal(err)
	}
	if err := jobstest.FillFinished(ctx, st, 10_000); err != nil {
		b.Fatal(err)
	}
	st.Close()
	s, err := launchServer(vars, work)
	if err != nil {
		b.Fatal(err)
	}
	defer s.stop(syscall.SIGTERM)
	// The same queries straight over HTTP (no CLI process, no table): what the server and the wire cost.
	endpoint, err := os.ReadFile(filepath.Join(home, "server", "endpoint"))
	if err != nil {
		b.Fatal(err)
	}
	base := strings.TrimSpace(string(endpoint))
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	for _, q := range []string{"all_users=true", "all_users=true&events=true"} {
		b.Run("http/"+q, func(b *testing.B) {
			var size int
			for b.Loop() {
				resp, err := http.Get(base + "/api/v1/jobs?" + q)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d %v: %.300s", q, resp.StatusCode, err, body)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		rows int // lines that name a finished job's name, at least
	}{
		{"default", []string{"-u"}, 50},
		{"all", []string{"-a", "-u"}, 11_000},
		{"all-json", []string{"-a", "-u", "-o", "json"}, 11_000},
		{"all-detail", []string{"-a", "-u", "-v"}, 11_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(filepath.Join(binDir, "stix"), append([]string{"jobs", "queue"}, tc.args...)...)
				cmd.Env = append(os.Environ(), vars...)
				cmd.Env = append(cmd.Env, "STIX_API_SERVER_ENDPOINT=")
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				if err := cmd.Run(); err != nil {
					b.Fatalf("stix jobs queue %v: %v\n%s", tc.args, err, errb.String())
				}
				if n := strings.Count(out.String(), "train-"); n < tc.rows {
					b.Fatalf("stix jobs queue %v: %d job names in the output, want %d:\n%.2000s\n%s", tc.args, n, tc.rows, out.String(), errb.String())
				}
			}
		})
	}
}
