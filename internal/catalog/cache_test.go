package catalog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/sqlitedb/filelock"
	"github.com/stix-run/stix/internal/testutil"
)

// The test binary doubles as a second stix process for TestCacheTwoProcessesDownloadOnce: with helperDir set it
// reads aws/vms.csv through a Cache on that directory and exits.
const (
	helperDir = "STIX_CATALOG_TEST_CACHE_DIR"
	helperURL = "STIX_CATALOG_TEST_BASE_URL"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDir); dir != "" {
		if err := helperRead(dir, os.Getenv(helperURL)); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperRead prints "checked" when the cache first looks at the clock (it has then seen the file stale, since
// the test holds the lock and nothing can refresh it), then "read <sha256>" once it has the file.
func helperRead(dir, baseURL string) error {
	if !strings.HasPrefix(baseURL, "http://127.0.0.1:") {
		return fmt.Errorf("base URL %q is not the test's loopback server", baseURL)
	}
	var once sync.Once
	c := &Cache{Dir: dir, BaseURL: baseURL, Now: func() time.Time {
		once.Do(func() { fmt.Println("checked") })
		return time.Now()
	}}
	data, err := c.ReadFile(context.Background(), "aws/vms.csv")
	if err != nil {
		return err
	}
	fmt.Println("read", sha256Hex(data))
	return nil
}

// upstream is a loopback HTTP server with the layout of SkyPilot's hosted catalog, serving a copy of the shared
// snapshot made at test time (so a test may change it), counting requests per catalog file.
type upstream struct {
	root string // holds v7/
	srv  *httptest.Server

	mu   sync.Mutex
	hits map[string]int
	// answer, when set, may answer a request itself (a failure mode) by returning true.
	answer func(w http.ResponseWriter, r *http.Request) bool
}

func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{root: t.TempDir(), hits: map[string]int{}}
	copyTree(t, testutil.SharedDir(t, "catalogs/"+SchemaVersion), filepath.Join(u.root, SchemaVersion))
	files := http.FileServer(http.Dir(u.root))
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/"+SchemaVersion+"/")
		u.mu.Lock()
		u.hits[name]++
		answer := u.answer
		u.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) setAnswer(f func(w http.ResponseWriter, r *http.Request) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answer = f
}

func (u *upstream) hitsOf(name string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[name]
}

func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, h := range u.hits {
		n += h
	}
	return n
}

func (u *upstream) file(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(u.root, SchemaVersion, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// change makes the upstream's copy of name differ, still valid: its last row once more.
func (u *upstream) change(t testing.TB, name string) []byte {
	t.Helper()
	data := u.file(t, name)
	body := strings.TrimRight(string(data), "\n")
	data = []byte(body + "\n" + body[strings.LastIndexByte(body, '\n')+1:] + "\n")
	if err := os.WriteFile(filepath.Join(u.root, SchemaVersion, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy the catalog snapshot: %v", err)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, s)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

func newTestCache(t testing.TB, u *upstream) (*Cache, *fakeClock, *warnings) {
	clk := &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	w := &warnings{}
	return &Cache{Dir: t.TempDir(), BaseURL: u.srv.URL, Now: clk.Now, Warn: w.add}, clk, w
}

func mustRead(t *testing.T, c *Cache, name string) []byte {
	t.Helper()
	data, err := c.ReadFile(context.Background(), name)
	if err != nil {
		t.Fatalf("ReadFile %s: %v", name, err)
	}
	return data
}

func TestCacheDownloadsOnceWithinTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUpstream(t)
	c, _, w := newTestCache(t, u)
	cat, err := Load(ctx, c, "aws", "lambda")
	if err != nil {
		t.Fatal(err)
	}
	if got := cat.Names(); len(got) != 2 {
		t.Fatalf("loaded %v, want aws and lambda", got)
	}
	// Only the files of the clouds asked for are fetched; lambda has no images.csv upstream (404).
	want := map[string]int{"aws/vms.csv": 1, "aws/images.csv": 1, "lambda/vms.csv": 1, "lambda/images.csv": 1,
		"common/accelerators.csv": 1}
	for name, n := range want {
		if got := u.hitsOf(name); got != n {
			t.Errorf("%s downloaded %d times, want %d", name, got, n)
		}
	}
	if got := u.total(); got != len(want) {
		t.Errorf("%d requests, want %d (only the clouds asked for)", got, len(want))
	}
	if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, u.file(t, "aws/vms.csv")) {
		t.Error("cached aws/vms.csv differs from the served file")
	}
	if _, err := c.ReadFile(ctx, "lambda/images.csv"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lambda/images.csv: %v, want fs.ErrNotExist", err)
	}

	// Within the TTL neither this cache nor another on the same directory (another stix process) asks again,
	// not even for the file the server said it lacks.
	other := &Cache{Dir: c.Dir, BaseURL: c.BaseURL, Now: c.Now}
	for _, src := range []*Cache{c, other} {
		if _, err := Load(ctx, src, "aws", "lambda"); err != nil {
			t.Fatal(err)
		}
	}
	if got := u.total(); got != len(want) {
		t.Errorf("%d requests after loading again within the TTL, want still %d", got, len(want))
	}
	if msgs := w.all(); len(msgs) != 0 {
		t.Errorf("unexpected warnings: %q", msgs)
	}
}

func TestCacheRefreshesAfterTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cloudTTL map[string]time.Duration
		ttl      time.Duration // the aws TTL in force
	}{
		{name: "default TTL", ttl: DefaultTTL},
		{name: "per-cloud TTL", cloudTTL: map[string]time.Duration{"aws": 20 * time.Minute}, ttl: 20 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t)
			c, clk, _ := newTestCache(t, u)
			c.CloudTTL = tc.cloudTTL
			old := mustRead(t, c, "aws/vms.csv")
			mustRead(t, c, "gcp/vms.csv")
			changed := u.change(t, "aws/vms.csv")

			clk.Advance(tc.ttl - time.Second)
			if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, old) || u.hitsOf("aws/vms.csv") != 1 {
				t.Fatalf("refreshed before the TTL (%d downloads)", u.hitsOf("aws/vms.csv"))
			}
			clk.Advance(time.Second)
			if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, changed) {
				t.Fatal("after the TTL the cache still returns the old file")
			}
			if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, changed) || u.hitsOf("aws/vms.csv") != 2 {
				t.Fatalf("the refreshed file was not kept (%d downloads, want 2)", u.hitsOf("aws/vms.csv"))
			}
			mustRead(t, c, "gcp/vms.csv")
			if want := map[bool]int{true: 1, false: 2}[tc.cloudTTL != nil]; u.hitsOf("gcp/vms.csv") != want {
				t.Errorf("gcp/vms.csv downloaded %d times, want %d", u.hitsOf("gcp/vms.csv"), want)
			}

			// A clock set back by an hour does not trust the check "from the future": it refreshes.
			clk.Advance(-time.Hour)
			mustRead(t, c, "aws/vms.csv")
			if got := u.hitsOf("aws/vms.csv"); got != 3 {
				t.Errorf("after the clock went back: %d downloads, want 3", got)
			}
		})
	}
}

func TestCacheKeepsCopyWhenDownloadFails(t *testing.T) {
	t.Parallel()
	status := func(code int) func(http.ResponseWriter, []byte) {
		return func(w http.ResponseWriter, _ []byte) { http.Error(w, "nope", code) }
	}
	for _, tc := range []struct {
		name   string
		down   bool                              // the server is gone (connection refused)
		answer func(http.ResponseWriter, []byte) // given the file's full content
	}{
		{name: "server down", down: true},
		{name: "HTTP 500", answer: status(http.StatusInternalServerError)},
		{name: "HTTP 429 and no mirror", answer: status(http.StatusTooManyRequests)},
		{name: "connection cut before Content-Length", answer: func(w http.ResponseWriter, full []byte) {
			w.Header().Set("Content-Length", fmt.Sprint(len(full)))
			w.Write(full[:len(full)/2])
		}},
		{name: "file cut in the middle of a row", answer: func(w http.ResponseWriter, full []byte) {
			w.Write(full[:bytes.LastIndexByte(full, ',')])
		}},
		{name: "HTML page instead of CSV", answer: func(w http.ResponseWriter, _ []byte) {
			io.WriteString(w, "<html><body>Sign in to the hotel Wi-Fi</body></html>\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t)
			c, clk, w := newTestCache(t, u)
			good := mustRead(t, c, "aws/vms.csv")
			full := u.change(t, "aws/vms.csv")
			if tc.down {
				u.srv.Close()
			} else {
				u.setAnswer(func(rw http.ResponseWriter, _ *http.Request) bool { tc.answer(rw, full); return true })
			}
			clk.Advance(DefaultTTL)
			if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, good) {
				t.Fatal("the cached copy was not kept")
			}
			msgs := w.all()
			if len(msgs) != 1 || !strings.Contains(msgs[0], "aws/vms.csv") || !strings.Contains(msgs[0], "using the copy") {
				t.Fatalf("warnings %q, want one about keeping aws/vms.csv's cached copy", msgs)
			}
			// The failed try counts as a check: within the next TTL nothing is fetched and nothing repeated.
			hits := u.hitsOf("aws/vms.csv")
			mustRead(t, c, "aws/vms.csv")
			if u.hitsOf("aws/vms.csv") != hits || len(w.all()) != 1 {
				t.Errorf("retried within the TTL after a failure")
			}
			if ents, _ := os.ReadDir(filepath.Join(c.Dir, "aws")); len(ents) != 1 {
				t.Errorf("cache directory holds %v, want only vms.csv (no temporary file)", ents)
			}
			if tc.down {
				return
			}
			u.setAnswer(nil)
			clk.Advance(DefaultTTL)
			if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, full) {
				t.Error("once the server answers again the file is not refreshed")
			}
		})
	}
}

func TestCacheWithoutCopyOfflineIsClearError(t *testing.T) {
	t.Parallel()
	u := newUpstream(t)
	c, _, _ := newTestCache(t, u)
	u.srv.Close()
	_, err := c.ReadFile(context.Background(), "aws/vms.csv")
	if err == nil {
		t.Fatal("ReadFile succeeded with no cached copy and no server")
	}
	for _, want := range []string{"aws/vms.csv", c.URL("aws/vms.csv"), "connection refused", "STIX_CATALOG_DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q reads as an absent file, not as a failed download", err)
	}
	// Load says the same, naming the file's path, whichever file it read first.
	_, err = Load(context.Background(), c, "aws")
	if err == nil || !strings.Contains(err.Error(), u.srv.URL) || !strings.Contains(err.Error(), "STIX_CATALOG_DIR") ||
		!strings.Contains(err.Error(), c.Dir) {
		t.Errorf("Load: %v, want the URL, the cache path and STIX_CATALOG_DIR", err)
	}
}

func TestCacheNeverOverwritesUserFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		download bool // stix downloaded the file before the user wrote it
		warning  string
	}{
		{name: "edited after download", download: true, warning: "edited since stix downloaded it"},
		{name: "put there by the user", warning: "not downloaded by stix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t)
			c, clk, w := newTestCache(t, u)
			if tc.download {
				mustRead(t, c, "aws/vms.csv")
			}
			mine := append(u.file(t, "aws/vms.csv"), "my.custom,,,8.0,32.0,,0.1,,us-east-1,use1-az1\n"...)
			if err := os.MkdirAll(filepath.Join(c.Dir, "aws"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(c.Path("aws/vms.csv"), mine, 0o644); err != nil {
				t.Fatal(err)
			}
			u.change(t, "aws/vms.csv")
			hits := u.hitsOf("aws/vms.csv")
			for range 2 {
				clk.Advance(DefaultTTL)
				for range 2 {
					if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, mine) {
						t.Fatal("the user's file was replaced")
					}
				}
			}
			if u.hitsOf("aws/vms.csv") != hits {
				t.Error("the user's file was downloaded over")
			}
			// Warned once per TTL, not on every read.
			msgs := w.all()
			if len(msgs) != 2 || !strings.Contains(msgs[0], tc.warning) || !strings.Contains(msgs[0], c.Path("aws/vms.csv")) {
				t.Errorf("warnings %q, want two (one per TTL) saying %q", msgs, tc.warning)
			}
		})
	}
}

func TestCacheCancelledDownloadIsNotAFailure(t *testing.T) {
	t.Parallel()
	u := newUpstream(t)
	c, clk, w := newTestCache(t, u)
	good := mustRead(t, c, "aws/vms.csv")
	ctx, cancel := context.WithCancel(context.Background())
	// The server holds the request until the client gives up, as a slow network would.
	u.setAnswer(func(_ http.ResponseWriter, r *http.Request) bool {
		cancel()
		<-r.Context().Done()
		return true
	})
	clk.Advance(DefaultTTL)
	if _, err := c.ReadFile(ctx, "aws/vms.csv"); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadFile: %v, want context.Canceled", err)
	}
	if msgs := w.all(); len(msgs) != 0 {
		t.Errorf("warnings %q for a cancelled read", msgs)
	}
	// Cancelling is not a failed check: the next read tries again at once.
	u.setAnswer(nil)
	changed := u.change(t, "aws/vms.csv")
	if got := mustRead(t, c, "aws/vms.csv"); bytes.Equal(got, good) || !bytes.Equal(got, changed) {
		t.Error("the read after a cancelled one did not refresh")
	}
}

func TestCacheMirrorOnRateLimit(t *testing.T) {
	t.Parallel()
	u, mirror := newUpstream(t), newUpstream(t)
	u.setAnswer(func(w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return true
	})
	c, _, _ := newTestCache(t, u)
	c.MirrorURL = mirror.srv.URL
	if got := mustRead(t, c, "aws/vms.csv"); !bytes.Equal(got, mirror.file(t, "aws/vms.csv")) {
		t.Error("file from the mirror differs")
	}
	if u.hitsOf("aws/vms.csv") != 1 || mirror.hitsOf("aws/vms.csv") != 1 {
		t.Errorf("base %d, mirror %d requests; want 1 and 1", u.hitsOf("aws/vms.csv"), mirror.hitsOf("aws/vms.csv"))
	}
}

func TestCacheConcurrentReadersDownloadOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUpstream(t)
	c, clk, _ := newTestCache(t, u)
	looked := make(chan struct{}, 2)
	c.Now = func() time.Time {
		select {
		case looked <- struct{}{}:
		default:
		}
		return clk.Now()
	}
	// Holding the lock while both readers look guarantees that both find the file stale and then wait; once
	// released, one downloads and the other must notice, under the lock, that it is fresh now.
	unlock, err := filelock.Lock(ctx, c.metaPath("aws/vms.csv")+".lock")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		data []byte
		err  error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			data, err := c.ReadFile(ctx, "aws/vms.csv")
			results <- result{data, err}
		}()
	}
	for range 2 {
		<-looked
	}
	unlock()
	for range 2 {
		r := <-results
		if r.err != nil || !bytes.Equal(r.data, u.file(t, "aws/vms.csv")) {
			t.Fatalf("reader: %v (%d bytes)", r.err, len(r.data))
		}
	}
	if got := u.hitsOf("aws/vms.csv"); got != 1 {
		t.Errorf("%d downloads, want 1", got)
	}
}

func TestCacheTwoProcessesDownloadOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUpstream(t)
	dir := t.TempDir()
	unlock, err := filelock.Lock(ctx, (&Cache{Dir: dir}).metaPath("aws/vms.csv")+".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var procs []*exec.Cmd
	var outs []*bufio.Reader
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperDir+"="+dir, helperURL+"="+u.srv.URL)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		procs, outs = append(procs, cmd), append(outs, bufio.NewReader(out))
	}
	line := func(r *bufio.Reader) string {
		s, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("helper output: %q, %v", s, err)
		}
		return strings.TrimSpace(s)
	}
	for _, out := range outs {
		if got := line(out); got != "checked" {
			t.Fatalf("helper said %q, want checked", got)
		}
	}
	unlock()
	want := "read " + sha256Hex(u.file(t, "aws/vms.csv"))
	for i, out := range outs {
		if got := line(out); got != want {
			t.Errorf("helper %d: %q, want %q", i, got, want)
		}
		if err := procs[i].Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
	if got := u.hitsOf("aws/vms.csv"); got != 1 {
		t.Errorf("%d downloads by two processes, want 1", got)
	}
}

func TestCacheRejectsBadNames(t *testing.T) {
	t.Parallel()
	u := newUpstream(t)
	c, _, _ := newTestCache(t, u)
	for _, name := range []string{"", ".", "../x.csv", "/etc/passwd", "aws/../../x", ".meta/aws/vms.csv.json", ".meta"} {
		if _, err := c.ReadFile(context.Background(), name); err == nil {
			t.Errorf("ReadFile(%q) succeeded", name)
		}
	}
	if u.total() != 0 {
		t.Errorf("%d requests for invalid names", u.total())
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	snapshot := testutil.SharedDir(t, "catalogs/"+SchemaVersion)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Source // nil: a *Cache with wantURL, wantMirror, wantTTL
		url     string
		mirror  string
		ttl     time.Duration
		wantErr string
	}{
		{name: "directory used as is", env: map[string]string{"STIX_CATALOG_DIR": snapshot}, want: Dir(snapshot)},
		{name: "defaults", url: DefaultBaseURL, mirror: DefaultMirrorURL, ttl: DefaultTTL},
		{name: "own URL, no mirror", env: map[string]string{"STIX_CATALOG_URL": "http://127.0.0.1:1/catalogs"},
			url: "http://127.0.0.1:1/catalogs", ttl: DefaultTTL},
		{name: "TTL", env: map[string]string{"STIX_CATALOG_TTL": "30m"}, url: DefaultBaseURL, mirror: DefaultMirrorURL,
			ttl: 30 * time.Minute},
		{name: "TTL without unit", env: map[string]string{"STIX_CATALOG_TTL": "7"}, wantErr: "STIX_CATALOG_TTL"},
		{name: "negative TTL", env: map[string]string{"STIX_CATALOG_TTL": "-1h"}, wantErr: "STIX_CATALOG_TTL"},
		{name: "URL not http", env: map[string]string{"STIX_CATALOG_URL": "ftp://x/catalogs"}, wantErr: "STIX_CATALOG_URL"},
		{name: "URL without host", env: map[string]string{"STIX_CATALOG_URL": "catalogs"}, wantErr: "STIX_CATALOG_URL"},
		{name: "missing directory", env: map[string]string{"STIX_CATALOG_DIR": filepath.Join(snapshot, "nope")},
			wantErr: "STIX_CATALOG_DIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			src, err := FromEnv(home, func(k string) string { return tc.env[k] }, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if src != tc.want {
					t.Fatalf("source %#v, want %#v", src, tc.want)
				}
			} else {
				c, ok := src.(*Cache)
				if !ok {
					t.Fatalf("source %T, want *Cache", src)
				}
				if c.Dir != filepath.Join(home, "catalogs", "v7") || c.BaseURL != tc.url || c.MirrorURL != tc.mirror || c.TTL != tc.ttl {
					t.Errorf("cache %+v, want dir %s/catalogs/v7, URL %s, mirror %q, TTL %s", c, home, tc.url, tc.mirror, tc.ttl)
				}
			}
			// Choosing the source reads and writes nothing: a launch that needs no paid cloud costs no I/O.
			if ents, _ := os.ReadDir(home); len(ents) != 0 {
				t.Errorf("FromEnv wrote %v into the home", ents)
			}
		})
	}
}

func TestFromEnvEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUpstream(t)
	home := t.TempDir()
	src, err := FromEnv(home, func(k string) string {
		return map[string]string{"STIX_CATALOG_URL": u.srv.URL + "/"}[k]
	}, func(s string) { t.Error("warning:", s) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, src, "gcp"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, "catalogs", "v7", "gcp", "vms.csv")); err != nil {
		t.Errorf("gcp/vms.csv not cached under the home: %v", err)
	}
	dir, err := FromEnv(home, func(k string) string {
		return map[string]string{"STIX_CATALOG_DIR": testutil.SharedDir(t, "catalogs/"+SchemaVersion)}[k]
	}, func(s string) { t.Error("warning:", s) })
	if err != nil {
		t.Fatal(err)
	}
	before := u.total()
	if _, err := Load(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if u.total() != before {
		t.Error("STIX_CATALOG_DIR still downloaded")
	}
}

// BenchmarkCacheLoad loads every cloud of the snapshot through the cache from a loopback server: cold (empty
// cache: every file downloaded, validated, saved) and warm (all fresh: a metadata read and a stat per file).
func BenchmarkCacheLoad(b *testing.B) {
	ctx := context.Background()
	u := newUpstream(b)
	clouds := []string{"aws", "cudo", "gcp", "hyperbolic", "lambda", "nebius", "runpod"}
	b.Run("cold", func(b *testing.B) {
		root := b.TempDir()
		for i := 0; b.Loop(); i++ {
			c := &Cache{Dir: filepath.Join(root, fmt.Sprint(i)), BaseURL: u.srv.URL}
			if _, err := Load(ctx, c, clouds...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		c := &Cache{Dir: b.TempDir(), BaseURL: u.srv.URL}
		if _, err := Load(ctx, c, clouds...); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := Load(ctx, c, clouds...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dir", func(b *testing.B) {
		d := Dir(filepath.Join(u.root, SchemaVersion))
		for b.Loop() {
			if _, err := Load(ctx, d, clouds...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// An images.csv that could not be downloaded does not stop planning on the cloud (only image tags need it):
// Load succeeds from the cached vms.csv, and an image lookup says what failed.
func TestLoadWithoutImagesOffline(t *testing.T) {
	t.Parallel()
	u := newUpstream(t)
	c, _, _ := newTestCache(t, u)
	mustRead(t, c, "aws/vms.csv")
	mustRead(t, c, "common/accelerators.csv")
	u.setAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/images.csv") {
			http.Error(w, "upstream down", http.StatusBadGateway)
			return true
		}
		return false
	})
	cat, err := Load(context.Background(), c, "aws")
	if err != nil {
		t.Fatalf("Load with images.csv unavailable: %v", err)
	}
	aws, ok := cat.Cloud("aws")
	if !ok {
		t.Fatal("Load did not load aws")
	}
	_, err = aws.ImageID("skypilot:gpu-ubuntu-2204", "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "images.csv") || !strings.Contains(err.Error(), "502") {
		t.Errorf("ImageID: %v, want the failed download of images.csv", err)
	}
}
