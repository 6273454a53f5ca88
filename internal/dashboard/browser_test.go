package dashboard_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
)

// chromium returns Debian's Chromium, or skips the test where there is none (scripts/test-deps.sh installs it);
// with STIX_REQUIRE_CHROMIUM=1 (CI) a missing one fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("STIX_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium: install Debian's chromium package (scripts/test-deps.sh does) or set STIX_CHROMIUM"
	if os.Getenv("STIX_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " (STIX_REQUIRE_CHROMIUM=1 requires it)")
	}
	t.Skip(msg)
	return ""
}

// newTab starts a headless Chromium of its own (its own profile: no cookies) at width×height and returns a
// tab; on failure the tab's screenshot (PNG) is kept in the test's artifact directory (go test -artifacts).
func newTab(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		if t.Failed() {
			shot, cancel := context.WithTimeout(ctx, 20*time.Second)
			if png, err := chromedp.Run(shot, chromedp.FullScreenshot(100)); err == nil {
				p := filepath.Join(t.ArtifactDir(), "screenshot.png")
				if os.WriteFile(p, png, 0o644) == nil {
					t.Logf("screenshot of the page at the failure: %s", p)
				}
			}
			cancel()
		}
		cancelTab()
		cancelAlloc()
	})
	// The first run starts the browser, on a context without a deadline (one would end the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs steps in the tab, each call within two minutes.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(wctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(wctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// text returns the text of the first element matching the CSS selector sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, `(function(){var e=document.querySelector(`+strconv.Quote(sel)+`);return e?e.textContent:"(no element)"})()`)
}

// waitText polls the page until the element sel's text contains want, for at most a minute.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := `(function(){var e=document.querySelector(` + strconv.Quote(sel) + `);return !!e&&e.textContent.indexOf(` + strconv.Quote(want) + `)>=0})()`
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(time.Minute))); err != nil {
		t.Fatalf("%s never showed %q: %v; it shows %q", sel, want, err, text(t, ctx, sel))
	}
}

// loginThroughThePage logs in with token on the login page the dashboard sends a browser without a session to.
func loginThroughThePage(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	do(t, ctx, "log in",
		chromedp.Navigate(base+"/dashboard/clusters"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`#clusters`)),
	)
}

func logout(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "log out", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS(`#token`)))
}

// TestBrowser drives Chromium through the dashboard of a server that requires tokens, over a real local
// cluster: log in on the page, see a cluster launched through the API appear, follow its job's log live, a
// user who does not own it neither sees it nor can stop it, its owner stops it from the page; the layout fits a
// phone's width, and the first Tab reaches the skip link.
func TestBrowser(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 390, 844) // a phone's width
	dir := t.TempDir()
	base, _, core := realServer(t, server.Options{Dir: dir, Auth: auth.Config{ServiceAccounts: true}})
	ada := createToken(t, base, dir, "ada", "user")
	bob := createToken(t, base, dir, "bob", "user")
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, Token: ada})
	if err != nil {
		t.Fatal(err)
	}

	loginThroughThePage(t, ctx, base, ada)
	waitText(t, ctx, "#clusters tbody", "No clusters")
	if eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`) {
		t.Error("the clusters page is wider than a phone's screen")
	}
	do(t, ctx, "tab to the skip link", chromedp.KeyEvent("\t"))
	if focused := eval[string](t, ctx, `document.activeElement.className`); focused != "skip" {
		t.Errorf("the first Tab focuses %q, want the skip link", focused)
	}

	gate := filepath.Join(t.TempDir(), "go")
	id := launchWaiting(t, c, core, "web1", gate)
	// The cluster appears: reload until it does (its launch has returned, so the first reload shows it).
	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="web1"]`)))

	do(t, ctx, "open the cluster and its job",
		chromedp.Click(chromedp.CSS(`tr[data-cluster="web1"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#jobs`)),
		chromedp.Click(chromedp.CSS(`#jobs a[href$="/jobs/`+strconv.Itoa(id)+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#log`)),
	)
	waitText(t, ctx, "#log", "first")
	if s := text(t, ctx, "#log"); strings.Contains(s, "second") {
		t.Fatalf("the log shows %q before the job could write it", s)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#log", "second")
	waitText(t, ctx, "#log-status", "SUCCEEDED")
	waitText(t, ctx, "#job-state", "SUCCEEDED")

	// Another user neither sees the cluster nor can stop it.
	logout(t, ctx)
	loginThroughThePage(t, ctx, base, bob)
	waitText(t, ctx, "#user", "bob")
	if s := text(t, ctx, "#clusters tbody"); strings.Contains(s, "web1") {
		t.Errorf("bob's clusters page lists ada's cluster: %q", s)
	}
	do(t, ctx, "open ada's cluster's stop page", chromedp.Navigate(base+"/dashboard/clusters/web1/stop"))
	waitText(t, ctx, "main", `belongs to user "ada"`)
	if eval[int](t, ctx, `document.querySelectorAll("#confirm").length`) != 0 {
		t.Error("bob is offered a button to stop ada's cluster")
	}

	// Its owner stops it from the page.
	logout(t, ctx)
	loginThroughThePage(t, ctx, base, ada)
	do(t, ctx, "stop the cluster",
		chromedp.Navigate(base+"/dashboard/clusters/web1"),
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/clusters/web1/stop"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	waitText(t, ctx, ".flash", "Stop cluster web1: requested")
	waitClusterStatus(t, c, "web1", api.ClusterStopped)
	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#cluster-state`)))
	waitText(t, ctx, "#cluster-state", "STOPPED")
}

// BenchmarkFirstPaint: Chromium's first contentful paint of the clusters and managed-jobs lists, a fresh load
// each time, over three servers: bench_test.go's fake core (1000 clusters, 10 000 managed jobs, no store), a
// real SQLite store with 1000 clusters, 11 000 managed jobs and 10 000 requests (storebench_test.go), and an
// empty store (the baseline: the page with no rows).
// go test ./internal/dashboard -run '^$' -bench FirstPaint -benchtime 10x
func BenchmarkFirstPaint(b *testing.B) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		b.Skip("no chromium")
	}
	fake, err := server.New(context.Background(), server.Options{Dir: b.TempDir(), Client: bigFleet(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close(context.Background())
	servers := []struct {
		name string
		h    http.Handler
	}{
		{"fake", fake.Handler()},
		{"store", newFleetStore(b, 1000, 10_000, 10_000).serve(b, server.Options{}).Handler()},
		{"empty-store", newFleetStore(b, 0, 0, 0).serve(b, server.Options{}).Handler()},
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(b.TempDir()),
		chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		b.Fatal(err)
	}
	for _, srv := range servers {
		hs := httptest.NewServer(srv.h)
		for _, page := range []string{"/dashboard/clusters", "/dashboard/jobs"} {
			b.Run(srv.name+page, func(b *testing.B) {
				var total float64
				n := 0
				for b.Loop() {
					wctx, cancel := context.WithTimeout(ctx, time.Minute)
					if err := chromedp.Do(wctx, chromedp.Navigate(hs.URL+page)); err != nil {
						b.Fatalf("open %s: %v", page, err)
					}
					ms, err := chromedp.Run(wctx, chromedp.Poll[float64](
						`(function(){var e=performance.getEntriesByName("first-contentful-paint");return e.length?e[0].startTime:0})()`,
						chromedp.WithPollingInterval(10*time.Millisecond)))
					cancel()
					if err != nil {
						b.Fatalf("first paint of %s: %v", page, err)
					}
					total += ms
					n++
				}
				b.ReportMetric(total/float64(n), "ms-first-paint")
			})
		}
		// The page's event stream is still open: end it, or Close waits for it.
		hs.CloseClientConnections()
		hs.Close()
	}
}
