package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/auth"
)

// Cookies: the session (a browser's login) and the CSRF token every form sends back (double submit: a page of
// another site can neither read the cookie nor, SameSite=Strict, make the browser send it).
const (
	sessionCookie = "stix_session"
	csrfCookie    = "stix_csrf"
	csrfField     = "csrf"
	// flashCookie carries an action's outcome to the page the browser is sent to next: a cookie rather than a
	// query parameter, so that a link from elsewhere cannot put words on a dashboard page.
	flashCookie = "stix_flash"
)

// session is one browser's login. A token's session checks the token again on every page, so that revoking it
// ends the session; a basic-auth session keeps the identity checked at login (bcrypt on every page would cost
// tens of milliseconds) until it expires.
type session struct {
	authorization string // "Bearer ..." for a token; empty for basic auth
	id            auth.Identity
	expires       time.Time
}

// sessions are held in the server's memory: a restart, or another server behind the same address, sends the
// browser back to the login page.
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

var errSessionEnded = errors.New("the session expired or does not exist")

// add records sess under a new random key, forgetting the sessions that expired before now (a browser that
// never came back leaves its session behind).
func (s *sessions) add(sess session, now time.Time) string {
	key := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.m {
		if !now.Before(old.expires) {
			delete(s.m, k)
		}
	}
	s.m[key] = sess
	return key
}

func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *sessions) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// identity returns the user of session key, checking its token again with check.
func (s *sessions) identity(ctx context.Context, key string, now time.Time,
	check func(context.Context, string) (auth.Identity, error)) (auth.Identity, error) {
	s.mu.Lock()
	sess, ok := s.m[key]
	if ok && !now.Before(sess.expires) {
		delete(s.m, key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return auth.Identity{}, errSessionEnded
	}
	if sess.authorization == "" {
		return sess.id, nil
	}
	id, err := check(ctx, sess.authorization)
	if err != nil {
		s.remove(key)
		return auth.Identity{}, err
	}
	return id, nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, Expires: expires, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
}

// csrfToken returns the browser's CSRF token, setting the cookie when it has none.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	setCookie(w, r, csrfCookie, tok, time.Time{})
	// A page rendered in this response reads it from the request's cookies too.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	return tok
}

// checkCSRF reports whether a form POST came from a dashboard page: its token matches the cookie, and the
// browser's Origin, when it sends one, is this server.
func checkCSRF(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		host := strings.TrimPrefix(strings.TrimPrefix(o, "http://"), "https://")
		if host != r.Host {
			return false
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) == 1
}

// loginPage asks for a token (and, where the server accepts basic auth, a user name and password).
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.renderLogin(w, r, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "login", page{Title: "Log in", Data: map[string]any{
		"Next": safeNext(r.FormValue("next")), "Basic": h.opts.BasicAuth, "Error": msg}})
}

// login checks the credential as the API server does and starts a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !checkCSRF(r) {
		h.renderLogin(w, r, http.StatusForbidden, "The form expired; log in again.")
		return
	}
	var authorization string
	if tok := strings.TrimSpace(r.PostFormValue("token")); tok != "" {
		authorization = "Bearer " + tok
	} else if user := r.PostFormValue("user"); user != "" && h.opts.BasicAuth {
		authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+r.PostFormValue("password")))
	} else {
		h.renderLogin(w, r, http.StatusBadRequest, "Enter a token"+map[bool]string{true: ", or a user name and password", false: ""}[h.opts.BasicAuth]+".")
		return
	}
	id, err := h.reauthenticate(r.Context(), authorization)
	if err != nil {
		h.opts.Log.Info("dashboard login refused", "remote", r.RemoteAddr)
		h.renderLogin(w, r, http.StatusUnauthorized, "Login failed: the token, or the user name and password, were not accepted.")
		return
	}
	sess := session{id: id, expires: h.opts.Now().Add(h.opts.SessionTTL)}
	if strings.HasPrefix(authorization, "Bearer ") {
		sess.authorization = authorization
	}
	setCookie(w, r, sessionCookie, h.sessions.add(sess, h.opts.Now()), sess.expires)
	h.opts.Log.Info("dashboard login", "user", id.Name, "method", id.Method)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !checkCSRF(r) {
		h.errorPage(w, r, http.StatusForbidden, "The form expired: reload the page and try again.")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.sessions.remove(c.Value)
	}
	clearCookie(w, sessionCookie)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// safeNext is where to go after logging in: a dashboard page, never another site.
func safeNext(next string) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return Prefix + "/clusters"
}
