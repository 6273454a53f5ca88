package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// The real-cluster tests launch local clusters: a real stix-agent runs their nodes. The session tests share one
// PostgreSQL server (pgtest), stopped after the tests.
func TestMain(m *testing.M) {
	code := testutil.RunWithAgent(m)
	pgtest.StopShared()
	os.Exit(code)
}

// serve runs a real API server with opts (Dir defaults to a temporary directory) behind a loopback HTTP server
// and returns its URL; both go away with the test.
func serve(t testing.TB, opts server.Options) (*server.Server, string) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s, err := server.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, hs.URL
}

// browser is a cookie-keeping HTTP client that does not follow redirects, so that tests see them.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// get fetches path and returns the status, the body and the Location header.
func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

// post submits a form to path.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads page path and returns the CSRF token of its form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body, _ := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("%s has no form with a CSRF token:\n%s", path, body)
	}
	return m[1]
}

// login logs in with token through the login page.
func (b *browser) login(token string) {
	b.t.Helper()
	code, body, loc := b.post("/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "token": {token}})
	if code != http.StatusSeeOther || loc != "/dashboard/clusters" {
		b.t.Fatalf("login: %d to %q:\n%s", code, loc, body)
	}
}

// mustContain fails the test unless body has every want.
func mustContain(t testing.TB, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

func mustNotContain(t testing.TB, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s shows %q:\n%s", what, w, body)
		}
	}
}

// createToken makes a service-account token through the API, as admin (the server's initial token).
func createToken(t testing.TB, base, dir, name, role string) string {
	t.Helper()
	admin, err := server.ReadInitialToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, Token: admin})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(context.Background(), api.TokenRequest{Name: name, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}
