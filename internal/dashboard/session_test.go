package dashboard_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// start runs a real API server with opts behind a loopback HTTP server, as serve does, and returns its URL and
// a function that stops both (also run when the test ends): a restart is stop, then start again.
func start(t testing.TB, opts server.Options) (string, func()) {
	t.Helper()
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s, err := server.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		hs.CloseClientConnections()
		hs.Close()
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return hs.URL, stop
}

// sessionCookie returns the browser's dashboard session cookie.
func (b *browser) sessionCookie() string {
	b.t.Helper()
	u, _ := url.Parse(b.base + "/dashboard/")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "stix_session" {
			return c.Value
		}
	}
	b.t.Fatal("the browser has no session cookie")
	return ""
}

// loginBasic logs in with a user name and password through the login page.
func (b *browser) loginBasic(user, password string) {
	b.t.Helper()
	code, body, loc := b.post("/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "user": {user}, "password": {password}})
	if code != http.StatusSeeOther || loc != "/dashboard/clusters" {
		b.t.Fatalf("login as %s: %d to %q:\n%s", user, code, loc, body)
	}
}

// loggedIn fails the test unless the browser's session shows the clusters page as user.
func (b *browser) loggedIn(what, user string) {
	b.t.Helper()
	code, body, loc := b.get("/dashboard/clusters")
	if code != http.StatusOK {
		b.t.Fatalf("%s: %d to %q, want the clusters page as %s", what, code, loc, user)
	}
	mustContain(b.t, what, body, `<span id="user">`+user+`</span>`)
}

// loggedOut fails the test unless the browser is sent to the login page.
func (b *browser) loggedOut(what string) {
	b.t.Helper()
	code, _, loc := b.get("/dashboard/clusters")
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/login") {
		b.t.Errorf("%s: %d to %q, want the login page", what, code, loc)
	}
}

func writeHtpasswd(t testing.TB, path string, users map[string]string) {
	t.Helper()
	var b strings.Builder
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(h) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// removeLine rewrites the file at path without its line starting with prefix: the other lines stay as they were.
func removeLine(t testing.TB, path, prefix string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if !strings.HasPrefix(l, prefix) {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(keep, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSessionSurvivesARestart: the server stops and a new one starts over the same directory and database; the
// browser's session goes on without a login.
func TestSessionSurvivesARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFleet(t)
	opts := server.Options{Dir: dir, Client: f, Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}}
	base, stop := start(t, opts)
	tok := createToken(t, base, dir, "bob", "user")
	b := newBrowser(t, base)
	b.login(tok)
	b.loggedIn("before the restart", "bob")
	stop()

	b.base, _ = start(t, opts)
	b.loggedIn("after the restart", "bob")
}

// TestSessionSharedByServersOnOneDatabase: two servers, each with its own directory, share one state database
// (one SQLite file; PostgreSQL) and one htpasswd file, as behind a load balancer. A login on A is a session on
// B; logging out on B ends it on A; removing the user from the htpasswd file ends their session on both at once.
func TestSessionSharedByServersOnOneDatabase(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			loc := store.Location{Home: t.TempDir()}
			if backend == "postgres" {
				loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
			}
			htpasswd := filepath.Join(t.TempDir(), "htpasswd")
			writeHtpasswd(t, htpasswd, map[string]string{"bob": "s3cret", "carol": "pa55"})
			opts := func() server.Options {
				return server.Options{Dir: t.TempDir(), State: loc, Client: newFleet(t),
					Auth: auth.Config{HtpasswdFile: htpasswd, DefaultRole: auth.RoleUser}}
			}
			baseA, _ := start(t, opts())
			baseB, _ := start(t, opts())

			bob := newBrowser(t, baseA)
			bob.loginBasic("bob", "s3cret")
			bob.base = baseB
			bob.loggedIn("bob's session from A on B", "bob")
			code, _, _ := bob.post("/dashboard/logout", url.Values{"csrf": {bob.csrf("/dashboard/clusters")}})
			if code != http.StatusSeeOther {
				t.Fatalf("logout on B: %d", code)
			}

			carol := newBrowser(t, baseA)
			carol.loginBasic("carol", "pa55")
			bob.base = baseA
			bob.loginBasic("bob", "s3cret")
			for _, base := range []string{baseA, baseB} {
				bob.base, carol.base = base, base
				bob.loggedIn("bob's new session", "bob")
				carol.loggedIn("carol's session", "carol")
			}
			// bob's old session, logged out on B, is over on A too.
			old := newBrowser(t, baseA)
			old.loggedOut("a browser without a session")

			removeLine(t, htpasswd, "bob:")
			bob.base = baseB
			bob.loggedOut("bob's session on B once he is no longer in the htpasswd file")
			bob.base = baseA
			bob.loggedOut("bob's session on A once he is no longer in the htpasswd file")
			carol.loggedIn("carol's session, still in the file", "carol")
		})
	}
}

// TestChangedPasswordEndsTheSession: a basic-auth session is checked against the htpasswd file as it stands on
// every page: a new password ends the sessions made with the old one.
func TestChangedPasswordEndsTheSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	writeHtpasswd(t, htpasswd, map[string]string{"bob": "s3cret"})
	base, _ := start(t, server.Options{Dir: filepath.Join(dir, "server"), Client: newFleet(t),
		Auth: auth.Config{HtpasswdFile: htpasswd, DefaultRole: auth.RoleUser}})
	b := newBrowser(t, base)
	b.loginBasic("bob", "s3cret")
	b.loggedIn("bob's session", "bob")
	writeHtpasswd(t, htpasswd, map[string]string{"bob": "n3w-secret"})
	b.loggedOut("bob's session after his password changed")
	b.loginBasic("bob", "n3w-secret")
	b.loggedIn("bob's session with the new password", "bob")
}

// TestSessionCookieIsNotInTheDatabase: the database holds the cookie's SHA-256 and the token's, never the
// cookie or the token.
func TestSessionCookieIsNotInTheDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, stop := start(t, server.Options{Dir: dir, Client: newFleet(t), Auth: auth.Config{ServiceAccounts: true}})
	tok := createToken(t, base, dir, "bob", "user")
	b := newBrowser(t, base)
	b.login(tok)
	cookie := b.sessionCookie()
	b.loggedIn("bob's session", "bob")
	stop()

	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sq, _ := store.SQLOf(st)
	sum := sha256.Sum256([]byte(cookie))
	var user, method, credential string
	err = sq.DB.QueryRow(`SELECT user_name, method, credential FROM dashboard_sessions WHERE id = ?`, hex.EncodeToString(sum[:])).
		Scan(&user, &method, &credential)
	if err != nil || user != "bob" || method != "token" || credential != auth.HashToken(tok) {
		t.Errorf("the session's row: %q %q %q (%v); want bob's, by token, keeping the token's hash", user, method, credential, err)
	}
	// Every byte the server wrote under its directory: the database and its journal.
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(raw, []byte(cookie)) {
			t.Errorf("%s holds the session cookie", p)
		}
		if bytes.Contains(raw, []byte(tok)) {
			t.Errorf("%s holds the token", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRevokedTokenEndsItsSessionsOnEveryServer: two servers, each with its own directory, share one state
// database (one SQLite file; PostgreSQL): a token created through A is accepted by B, its dashboard session
// made on A works on B, and revoking it through B ends the session on A at once.
func TestRevokedTokenEndsItsSessionsOnEveryServer(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			loc := store.Location{Home: t.TempDir()}
			if backend == "postgres" {
				loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
			}
			dirA := t.TempDir()
			opts := func(dir string) server.Options {
				return server.Options{Dir: dir, State: loc, Client: newFleet(t),
					Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}}
			}
			baseA, _ := start(t, opts(dirA))
			baseB, _ := start(t, opts(t.TempDir()))
			// The first server made the initial admin token; the second found one and made none.
			bobToken := createToken(t, baseA, dirA, "bob", "user")
			carolToken := createToken(t, baseA, dirA, "carol", "user")

			bob := newBrowser(t, baseA)
			bob.login(bobToken)
			carol := newBrowser(t, baseB)
			carol.login(carolToken)
			for _, base := range []string{baseA, baseB} {
				bob.base, carol.base = base, base
				bob.loggedIn("bob's session", "bob")
				carol.loggedIn("carol's session", "carol")
			}

			admin, err := server.ReadInitialToken(dirA)
			if err != nil {
				t.Fatal(err)
			}
			onB, err := api.NewHTTP(api.HTTPOptions{Endpoint: baseB, Token: admin})
			if err != nil {
				t.Fatal(err)
			}
			if err := onB.RevokeToken(t.Context(), "bob"); err != nil {
				t.Fatal(err)
			}
			bob.base = baseA
			bob.loggedOut("bob's session on A after his token was revoked through B")
			bob.base = baseB
			bob.loggedOut("bob's session on B after his token was revoked")
			for _, base := range []string{baseA, baseB} {
				carol.base = base
				carol.loggedIn("carol's session, her token not revoked", "carol")
			}
		})
	}
}
