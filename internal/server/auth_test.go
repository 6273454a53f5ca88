package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
)

// The core answers as if alice owned "a1" and bob "b1"; the server must keep each to their own.
func fakeCore() *fakeclient.Client {
	all := []api.Cluster{{Name: "a1", User: "alice", Status: api.ClusterUp}, {Name: "b1", User: "bob", Status: api.ClusterUp}}
	return &fakeclient.Client{
		StatusFunc: func(names []string, _ bool) ([]api.Cluster, error) {
			if len(names) == 0 {
				return all, nil
			}
			var out []api.Cluster
			for _, c := range all {
				if slices.Contains(names, c.Name) {
					out = append(out, c)
				}
			}
			if len(out) == 0 {
				return nil, &api.ClusterNotFoundError{Name: names[0]}
			}
			return out, nil
		},
		MatchFunc: func([]string, bool) ([]string, error) { return []string{"a1", "b1"}, nil },
		DownFunc:  func(string, bool) error { return nil },
	}
}

// startServer serves a real Server over core with cfg on a loopback httptest server.
func startServer(t *testing.T, core api.Client, cfg auth.Config) (url, dir string) {
	t.Helper()
	dir = t.TempDir()
	s, err := server.New(context.Background(), server.Options{Dir: dir, Client: core, Version: "test", Auth: cfg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); _ = s.Close(context.Background()) })
	return hs.URL, dir
}

func client(t *testing.T, endpoint, token string) *api.HTTPClient {
	t.Helper()
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: endpoint, Token: token, User: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantStatus checks that err is the server's error with HTTP status code.
func wantStatus(t *testing.T, err error, code int, what string) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) || e.Status != code {
		t.Fatalf("%s: want HTTP %d, got %v", what, code, err)
	}
}

func names(cs []api.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestTokens(t *testing.T) {
	core := fakeCore()
	url, dir := startServer(t, core, auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser})
	ctx := context.Background()

	// The first admin's token is in a 0600 file; no other way in.
	fi, err := os.Stat(filepath.Join(dir, server.InitialTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("initial admin token file: %v %v", fi, err)
	}
	adminTok, err := server.ReadInitialToken(dir)
	if err != nil || !strings.HasPrefix(adminTok, "sky_") {
		t.Fatalf("initial admin token %q: %v", adminTok, err)
	}
	_, err = client(t, url, "").Status(ctx, nil, false)
	wantStatus(t, err, 401, "no token")
	_, err = client(t, url, "sky_short").Status(ctx, nil, false)
	wantStatus(t, err, 401, "malformed token")
	_, err = client(t, url, "sky_"+strings.Repeat("A", 43)).Status(ctx, nil, false)
	wantStatus(t, err, 401, "unknown token")
	if h, err := client(t, url, "").Health(ctx); err != nil || h.User != "" {
		t.Fatalf("health answers without a token, naming nobody: %+v %v", h, err)
	}

	admin := client(t, url, adminTok)
	alice, err := admin.CreateToken(ctx, api.TokenRequest{Name: "alice"})
	if err != nil || alice.Info.Role != "user" || alice.Info.Expires != nil {
		t.Fatalf("create alice: %+v %v", alice, err)
	}
	_, err = admin.CreateToken(ctx, api.TokenRequest{Name: "alice"})
	wantStatus(t, err, 409, "a name in use")
	_, err = admin.CreateToken(ctx, api.TokenRequest{Name: "bad name!"})
	wantStatus(t, err, 400, "a bad name")
	_, err = admin.CreateToken(ctx, api.TokenRequest{Name: "x", Role: "root"})
	wantStatus(t, err, 400, "a bad role")

	ac := client(t, url, alice.Token)
	// Calls outside the client's methods (uploads) carry the token too.
	resp, err := ac.AuthenticatedHTTP().Get(url + "/api/v1/clusters")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("AuthenticatedHTTP: %v %v", resp, err)
	}
	resp.Body.Close()
	if h, err := ac.Health(ctx); err != nil || h.User != "alice" {
		t.Fatalf("health as alice: %+v %v", h, err)
	}
	cs, err := ac.Status(ctx, nil, false)
	if err != nil || !slices.Equal(names(cs), []string{"a1"}) {
		t.Fatalf("alice sees only her cluster: %v %v", names(cs), err)
	}
	_, err = ac.Status(api.WithAllUsers(ctx), nil, false)
	wantStatus(t, err, 403, "a user asking for all users' clusters")
	if m, err := ac.Match(ctx, []string{"*"}, true); err != nil || !slices.Equal(m, []string{"a1"}) {
		t.Fatalf("alice's match keeps her clusters: %v %v", m, err)
	}
	_, err = ac.Down(ctx, "b1", false)
	wantStatus(t, err, 403, "alice downs bob's cluster")
	if !strings.Contains(err.Error(), `cluster "b1" belongs to user "bob"`) {
		t.Fatalf("the 403 says whose cluster it is: %v", err)
	}
	for _, c := range core.Calls() {
		if c.Method == "Down" {
			t.Fatalf("the core was asked to down a cluster: %+v", c)
		}
	}
	_, err = ac.Tokens(ctx)
	wantStatus(t, err, 403, "a user listing tokens")
	op, err := ac.Down(ctx, "a1", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(); err != nil {
		t.Fatalf("alice downs her own cluster: %v", err)
	}
	reqs, err := ac.Requests(ctx, api.RequestFilter{All: true})
	if err != nil || len(reqs) != 1 || reqs[0].User != "alice" {
		t.Fatalf("alice's request is recorded under her name: %+v %v", reqs, err)
	}

	// The admin sees every user's clusters with all_users, and acts on any.
	cs, err = admin.Status(api.WithAllUsers(ctx), nil, false)
	if err != nil || len(cs) != 2 {
		t.Fatalf("admin sees all: %v %v", names(cs), err)
	}
	if _, err := admin.Request(ctx, reqs[0].ID); err != nil {
		t.Fatalf("admin reads alice's request: %v", err)
	}
	bob, err := admin.CreateToken(ctx, api.TokenRequest{Name: "bob", ExpiresInDays: 30})
	if err != nil || bob.Info.Expires == nil {
		t.Fatalf("create bob: %+v %v", bob, err)
	}
	_, err = client(t, url, bob.Token).Request(ctx, reqs[0].ID)
	wantStatus(t, err, 403, "bob reads alice's request")

	// Revoked: refused from then on; the table keeps no token.
	if err := admin.RevokeToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = ac.Status(ctx, nil, false)
	wantStatus(t, err, 401, "revoked token")
	wantStatus(t, admin.RevokeToken(ctx, "alice"), 409, "revoking twice")
	wantStatus(t, admin.RevokeToken(ctx, "nobody"), 404, "revoking an unknown name")
	db, _ := os.ReadFile(filepath.Join(dir, store.StateFile))
	wal, _ := os.ReadFile(filepath.Join(dir, store.StateFile+"-wal"))
	for _, tok := range []string{adminTok, alice.Token, bob.Token} {
		if strings.Contains(string(db)+string(wal), tok) {
			t.Fatal("a token is stored in the clear")
		}
	}
	l, err := admin.Tokens(ctx)
	if err != nil || len(l) != 3 || l[0].Name != "alice" || l[0].Revoked == nil {
		t.Fatalf("token list: %+v %v", l, err)
	}
}

func htpasswdFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBasicAuth(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := htpasswdFile(t, "# team", "alice:"+string(h))
	url, _ := startServer(t, fakeCore(), auth.Config{HtpasswdFile: file, DefaultRole: auth.RoleUser})
	ctx := context.Background()
	host := strings.TrimPrefix(url, "http://")
	c := client(t, "http://alice:s3cret@"+host, "")
	if strings.Contains(c.Endpoint(), "s3cret") {
		t.Fatalf("the endpoint shown carries the password: %s", c.Endpoint())
	}
	if h, err := c.Health(ctx); err != nil || h.User != "alice" {
		t.Fatalf("good password: %+v %v", h, err)
	}
	if cs, err := c.Status(ctx, nil, false); err != nil || !slices.Equal(names(cs), []string{"a1"}) {
		t.Fatalf("alice by basic auth sees her cluster: %v %v", names(cs), err)
	}
	for _, u := range []string{"alice:wrong", "nobody:s3cret"} {
		_, err := client(t, "http://"+u+"@"+host, "").Status(ctx, nil, false)
		wantStatus(t, err, 401, "basic auth "+u)
	}
	_, err = client(t, url, "").Status(ctx, nil, false)
	wantStatus(t, err, 401, "no credentials")

	// The file is read again when it changes: a user removed is refused at once, one added accepted.
	hb, err := bcrypt.GenerateFromPassword([]byte("pa55"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("bob:"+string(hb)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(ctx, nil, false)
	wantStatus(t, err, 401, "alice, removed from the htpasswd file")
	if h, err := client(t, "http://bob:pa55@"+host, "").Health(ctx); err != nil || h.User != "bob" {
		t.Fatalf("bob, added to the htpasswd file: %+v %v", h, err)
	}
	// A file that no longer reads refuses everyone rather than keep users it may have removed.
	if err := os.WriteFile(file, []byte("bob:$apr1$x$y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = client(t, "http://bob:pa55@"+host, "").Status(ctx, nil, false)
	wantStatus(t, err, 401, "bob, with a malformed htpasswd file")
}

func TestHtpasswdRefusesWeakHashes(t *testing.T) {
	for _, line := range []string{"bob:$apr1$abc$defghijklmnopqrstuvwx", "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "bob:plain"} {
		_, err := auth.LoadHtpasswd(htpasswdFile(t, line))
		if err == nil || !strings.Contains(err.Error(), ":1: user \"bob\": only bcrypt") {
			t.Errorf("%s: want a refusal naming the line, got %v", line, err)
		}
	}
	_, err := server.New(context.Background(), server.Options{Dir: t.TempDir(), Client: fakeCore(),
		Auth: auth.Config{HtpasswdFile: htpasswdFile(t, "bob:$apr1$x$y")}})
	if err == nil || !strings.Contains(err.Error(), "api_server.auth.htpasswd_file") {
		t.Fatalf("the server refuses to start on a weak htpasswd file: %v", err)
	}
}

func proxyGet(t *testing.T, url, header, user string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/clusters", nil)
	req.Header.Set(header, user)
	req.Header.Set(api.HeaderUser, "mallory")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func TestProxyHeader(t *testing.T) {
	// Configured: the proxy's header names the user.
	url, _ := startServer(t, fakeCore(), auth.Config{ProxyHeader: auth.DefaultProxyHeader, DefaultRole: auth.RoleUser})
	resp, body := proxyGet(t, url, "X-Auth-Request-Email", "alice")
	if resp.StatusCode != 200 || !strings.Contains(body, `"a1"`) || strings.Contains(body, `"b1"`) {
		t.Fatalf("proxy user alice: %d %s", resp.StatusCode, body)
	}
	// Configured, but only from an address the test is not: refused.
	url, _ = startServer(t, fakeCore(), auth.Config{ProxyHeader: "X-Auth-Request-Email",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if resp, body := proxyGet(t, url, "X-Auth-Request-Email", "alice"); resp.StatusCode != 401 || !strings.Contains(body, "trusted_proxies") {
		t.Fatalf("proxy header from an untrusted peer: %d %s", resp.StatusCode, body)
	}
	// Not configured: the header means nothing; the caller is the user it names in X-Stix-User.
	url, _ = startServer(t, fakeCore(), auth.Config{DefaultRole: auth.RoleUser})
	if resp, body := proxyGet(t, url, "X-Auth-Request-Email", "alice"); resp.StatusCode != 200 || strings.Contains(body, `"a1"`) {
		t.Fatalf("proxy header without a proxy configured: %d %s", resp.StatusCode, body)
	}
}
