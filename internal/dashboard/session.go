package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/store"
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

// session is one browser's login, as the state database keeps it (store migration 10): the user, how they
// logged in, and what is checked again on every page (auth.Authenticator.CheckSession) — the SHA-256 of the
// token, so that revoking it ends the session at once, or of the user's htpasswd entry, so that removing the
// user or changing the password does. The cookie itself is not kept: a row's id is its SHA-256.
type session struct {
	user, method, credential string
	expires                  time.Time
}

// Sessions keeps the dashboard's logins in the server's state database, SQLite or PostgreSQL: a restart keeps
// them, and every server sharing the database knows them (a browser behind a load balancer stays logged in).
type Sessions struct {
	db *sql.DB
	q  func(string) string
}

// OpenSessions uses the sessions table of st.
func OpenSessions(st store.Store) (*Sessions, error) {
	sq, ok := store.SQLOf(st)
	if !ok {
		return nil, errors.New("dashboard sessions: the state store is not a SQL database")
	}
	return &Sessions{db: sq.DB, q: sq.Q}, nil
}

var errSessionEnded = errors.New("the session expired or does not exist")

// sessionID is what the table keeps of a session's cookie: a cookie is 256 random bits, so a fast hash is as
// good as a slow one, and one who reads the database cannot log in with what they read.
func sessionID(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// add records sess and returns the cookie that names it, forgetting the sessions that expired before now (a
// browser that never came back leaves its session behind).
func (s *Sessions) add(ctx context.Context, sess session, now time.Time) (string, error) {
	if _, err := s.RemoveExpired(ctx, now); err != nil {
		return "", err
	}
	cookie := randomToken()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dashboard_sessions (id, user_name, method, credential, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`), sessionID(cookie), sess.user, sess.method, sess.credential, now.UnixNano(), sess.expires.UnixNano())
	if err != nil {
		return "", fmt.Errorf("record the dashboard session: %w", err)
	}
	return cookie, nil
}

// get returns the live session cookie names; an expired one is removed.
func (s *Sessions) get(ctx context.Context, cookie string, now time.Time) (session, error) {
	var (
		sess    session
		expires int64
	)
	id := sessionID(cookie)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_name, method, credential, expires_at FROM dashboard_sessions WHERE id = ?`), id).
		Scan(&sess.user, &sess.method, &sess.credential, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return session{}, errSessionEnded
	}
	if err != nil {
		return session{}, fmt.Errorf("read the dashboard session: %w", err)
	}
	sess.expires = time.Unix(0, expires)
	if !now.Before(sess.expires) {
		s.remove(ctx, cookie)
		return session{}, errSessionEnded
	}
	return sess, nil
}

func (s *Sessions) remove(ctx context.Context, cookie string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dashboard_sessions WHERE id = ?`), sessionID(cookie))
	return err
}

// EndTokenSessions ends the sessions logged in with the token named name (it was revoked), on every server
// sharing the database, and returns how many there were.
func (s *Sessions) EndTokenSessions(ctx context.Context, name string) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dashboard_sessions WHERE method = ? AND user_name = ?`), auth.SessionToken, name)
	if err != nil {
		return 0, fmt.Errorf("end the dashboard sessions of token %q: %w", name, err)
	}
	return res.RowsAffected()
}

// RemoveExpired removes the sessions that expired before now and returns how many (garbage collection).
func (s *Sessions) RemoveExpired(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dashboard_sessions WHERE expires_at <= ?`), now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("remove expired dashboard sessions: %w", err)
	}
	return res.RowsAffected()
}

// identity returns the user of the session cookie names, checking its credential again with check; a session
// whose credential no longer holds is removed.
func (s *Sessions) identity(ctx context.Context, cookie string, now time.Time,
	check func(ctx context.Context, method, user, credential string) (auth.Identity, error)) (auth.Identity, error) {
	sess, err := s.get(ctx, cookie, now)
	if err != nil {
		return auth.Identity{}, err
	}
	id, err := check(ctx, sess.method, sess.user, sess.credential)
	if err != nil {
		if sessionEnded(err) {
			s.remove(ctx, cookie)
		}
		return auth.Identity{}, err
	}
	return id, nil
}

// sessionEnded reports whether err ends a session (it expired, or its credential no longer holds: a 401), rather
// than say that the database did not answer, when the session may still be good.
func sessionEnded(err error) bool {
	var e *api.Error
	return errors.Is(err, errSessionEnded) || errors.As(err, &e) && e.Status == http.StatusUnauthorized
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
	method, credential, err := h.opts.SessionCredential(id, authorization)
	if err != nil {
		h.opts.Log.Info("dashboard login refused", "remote", r.RemoteAddr, "err", err.Error())
		h.renderLogin(w, r, http.StatusUnauthorized, "Login failed: the token, or the user name and password, were not accepted.")
		return
	}
	now := h.opts.Now()
	sess := session{user: id.Name, method: method, credential: credential, expires: now.Add(h.opts.SessionTTL)}
	cookie, err := h.opts.Sessions.add(r.Context(), sess, now)
	if err != nil {
		h.opts.Log.Error("dashboard login", "err", err.Error())
		h.renderLogin(w, r, http.StatusInternalServerError, "Login failed: the server could not record the session; try again.")
		return
	}
	setCookie(w, r, sessionCookie, cookie, sess.expires)
	h.opts.Log.Info("dashboard login", "user", id.Name, "method", id.Method)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !checkCSRF(r) {
		h.errorPage(w, r, http.StatusForbidden, "The form expired: reload the page and try again.")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := h.opts.Sessions.remove(r.Context(), c.Value); err != nil {
			h.opts.Log.Error("dashboard logout", "err", err.Error())
		}
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
