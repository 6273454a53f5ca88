package agent

import (
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// terminator is a cloud API that answers the first fail calls with status, then 200, recording each call.
type terminator struct {
	mu     sync.Mutex
	calls  []string // "METHOD PATH AUTH BODY"
	fail   int
	status int
}

func newTerminator(t *testing.T, fail, status int) (*terminator, *httptest.Server) {
	tm := &terminator{fail: fail, status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.calls = append(tm.calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
		if len(tm.calls) <= tm.fail {
			http.Error(w, `{"error": "try later"}`, tm.status)
			return
		}
		_, _ = io.WriteString(w, `{"data": {}}`)
	}))
	t.Cleanup(srv.Close)
	return tm, srv
}

func (tm *terminator) got() []string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]string(nil), tm.calls...)
}

// TestExitRequest: the head keeps the requests owner-only, sends them once its node ends with ExitRequest,
// retrying a server error with backoff and giving up at once on a refusal; cancelling autostop removes them, and
// ExitRequest with no requests is refused. A worker (no requests) just ends.
func TestExitRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs strings.Builder
	a := &agent{dir: dir, log: slog.New(slog.NewTextHandler(&logs, nil)), exitBackoff: time.Millisecond}
	cfg := AutostopConfig{IdleMinutes: 1, Down: true, Exit: ExitRequest}

	if err := a.keepExitRequests(AutostopRequest{IdleMinutes: 1, Down: true}, cfg); !errors.Is(err, ErrInvalid) {
		t.Errorf("ExitRequest with no requests: %v, want ErrInvalid", err)
	}
	if err := a.endNode(ExitRequest); err != nil {
		t.Errorf("a node with no requests (a worker): %v", err)
	}
	bad := AutostopRequest{Requests: []HTTPRequest{{Method: "POST", URL: "/relative"}}}
	if err := a.keepExitRequests(bad, cfg); !errors.Is(err, ErrInvalid) {
		t.Errorf("a relative URL: %v, want ErrInvalid", err)
	}

	tm, srv := newTerminator(t, 2, http.StatusServiceUnavailable)
	req := AutostopRequest{IdleMinutes: 1, Down: true, Requests: []HTTPRequest{{Method: "POST", URL: srv.URL + "/api/v1/instance-operations/terminate",
		Header: map[string]string{"Authorization": "Bearer secret_key", "Content-Type": "application/json"}, Body: `{"instance_ids":["i-1"]}`}}}
	if err := a.keepExitRequests(req, cfg); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, ExitRequestsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("requests file: %v, mode %v; want 0600", err, fi.Mode())
	}
	// Changing the idle time keeps them.
	if err := a.keepExitRequests(AutostopRequest{IdleMinutes: 5, Down: true}, cfg); err != nil {
		t.Errorf("keep the requests: %v", err)
	}
	if err := a.endNode(ExitRequest); err != nil {
		t.Fatalf("end node: %v", err)
	}
	want := `POST /api/v1/instance-operations/terminate Bearer secret_key {"instance_ids":["i-1"]}`
	if got := tm.got(); len(got) != 3 || got[2] != want {
		t.Errorf("calls %q, want two failures then %q", got, want)
	}

	tm, srv = newTerminator(t, 100, http.StatusUnauthorized)
	req.Requests[0].URL = srv.URL + "/v1/pods/p1"
	if err := a.keepExitRequests(req, cfg); err != nil {
		t.Fatal(err)
	}
	err = a.endNode(ExitRequest)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "stix down") || len(tm.got()) != 1 {
		t.Errorf("a refused request: %v after %d calls; want one call and an error naming HTTP 401", err, len(tm.got()))
	}
	_, srv = newTerminator(t, 100, http.StatusBadGateway)
	req.Requests[0].URL = srv.URL + "/v1/pods/p1"
	if err := a.keepExitRequests(req, cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.endNode(ExitRequest); err == nil || !strings.Contains(err.Error(), "try 4 of 4") {
		t.Errorf("a request failing every try: %v", err)
	}
	if strings.Contains(logs.String(), "secret_key") {
		t.Errorf("the log shows the API key:\n%s", logs.String())
	}

	if err := a.keepExitRequests(AutostopRequest{Cancel: true}, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ExitRequestsFile)); !os.IsNotExist(err) {
		t.Errorf("cancelled autostop kept the requests: %v", err)
	}
}

// TestAutostopExitRequest: real agents with a short idle unit; once idle, the head ends its worker and itself,
// then sends the request the client gave it, once, with its key.
func TestAutostopExitRequest(t *testing.T) {
	t.Parallel()
	tm, srv := newTerminator(t, 0, 0)
	c := startCluster(t, "autoreq", []nodeOpts{{cpus: 1}, {cpus: 1}}, "--idle-unit", "50ms")
	if _, err := c.head.SetAutostop(ctxT(t), AutostopRequest{IdleMinutes: 1, Down: true, Exit: ExitRequest}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ExitRequest without requests: %v, want ErrInvalid", err)
	}
	_, err := c.head.SetAutostop(ctxT(t), AutostopRequest{IdleMinutes: 1, Down: true, Exit: ExitRequest,
		Requests: []HTTPRequest{{Method: http.MethodDelete, URL: srv.URL + "/v1/pods/p1", Header: map[string]string{"Authorization": "Bearer rpa_KEY"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range c.agents {
		if err := a.cmd.Wait(); err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
		a.cmd = nil
		if got := strings.TrimSpace(readFile(t, filepath.Join(a.dir, AutostopMarkFile))); got != "down" {
			t.Errorf("agent %d mark = %q, want down", i, got)
		}
		if log := readFile(t, filepath.Join(a.dir, "agent.log")); strings.Contains(log, "rpa_KEY") {
			t.Errorf("agent %d log shows the API key:\n%s", i, log)
		}
	}
	if got := tm.got(); len(got) != 1 || got[0] != "DELETE /v1/pods/p1 Bearer rpa_KEY " {
		t.Errorf("calls %q, want the one DELETE", got)
	}
}

// TestExitRequestToken: a request with a TokenURL gets its bearer token first (GET with "Metadata: true", as from
// Azure's instance metadata service) and sends it as Authorization; an endpoint with a private CA is reached when
// the request carries its certificate (RootCAs), and an asynchronous operation's 202 is success. A token endpoint
// that refuses makes the request fail without reaching the API.
func TestExitRequestToken(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("client_id") != "mi-1" {
			http.Error(w, `{"error":"invalid_request","error_description":"Identity not found"}`, http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"mi-token","expires_in":"3599","token_type":"Bearer"}`)
	}))
	t.Cleanup(imds.Close)
	arm := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(arm.Close)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: arm.Certificate().Raw}))
	dir := t.TempDir()
	a := &agent{dir: dir, log: slog.New(slog.NewTextHandler(io.Discard, nil)), exitBackoff: time.Millisecond}
	cfg := AutostopConfig{IdleMinutes: 1, Exit: ExitRequest}
	good := HTTPRequest{Method: "POST", URL: arm.URL + "/vm-1/deallocate", TokenURL: imds.URL + "/token?client_id=mi-1", RootCAs: ca}
	if err := a.keepExitRequests(AutostopRequest{Requests: []HTTPRequest{{Method: "POST", URL: good.URL, RootCAs: "not pem"}}}, cfg); !errors.Is(err, ErrInvalid) {
		t.Errorf("root_cas without a certificate: %v, want ErrInvalid", err)
	}
	if err := a.keepExitRequests(AutostopRequest{Requests: []HTTPRequest{{Method: "POST", URL: good.URL, TokenURL: "relative"}}}, cfg); !errors.Is(err, ErrInvalid) {
		t.Errorf("a relative token URL: %v, want ErrInvalid", err)
	}
	if err := a.keepExitRequests(AutostopRequest{IdleMinutes: 1, Requests: []HTTPRequest{good}}, cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.endNode(ExitRequest); err != nil {
		t.Fatalf("send with a managed identity's token: %v", err)
	}
	mu.Lock()
	got := append([]string(nil), calls...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "POST /vm-1/deallocate Bearer mi-token" {
		t.Errorf("calls: %q", got)
	}

	bad := good
	bad.TokenURL = imds.URL + "/token?client_id=other"
	if err := a.keepExitRequests(AutostopRequest{IdleMinutes: 1, Requests: []HTTPRequest{bad}}, cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.endNode(ExitRequest); err == nil || !strings.Contains(err.Error(), "Identity not found") {
		t.Errorf("a token endpoint that refuses: %v, want its error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 {
		t.Errorf("the API was called without a token: %q", calls)
	}
}
