package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
)

// core is the server's core in these tests: the fake client's answers, and a Down that runs until its context
// is cancelled or the test releases it, so that a request stays in flight as long as a test needs.
type core struct {
	*fakeclient.Client
	started chan string   // Down sends its cluster once it runs
	release chan struct{} // closing it ends every Down successfully
}

func (c *core) Down(ctx context.Context, cluster string, _ bool) (*api.Operation[api.Done], error) {
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.Done, error) {
		emit(api.Event{Type: api.EventStep, Msg: "Terminating " + cluster})
		c.started <- cluster
		select {
		case <-ctx.Done():
			return api.Done{}, ctx.Err()
		case <-c.release:
			return api.Done{}, nil
		}
	}), nil
}

func newCore() *core {
	return &core{
		Client: &fakeclient.Client{
			StatusFunc: func([]string, bool) ([]api.Cluster, error) {
				return []api.Cluster{{Name: "dev", Status: api.ClusterUp, User: "ada"}}, nil
			},
			StopFunc: func(string) error { return nil },
			JobFunc: func(cluster string, id int) (api.Job, error) {
				return api.Job{}, &api.JobNotFoundError{Cluster: cluster, ID: id}
			},
		},
		started: make(chan string, 200),
		release: make(chan struct{}),
	}
}

// start serves a Server over dir with c as its core; the server goes away with the test.
func start(t *testing.T, dir string, c api.Client) (*server.Server, *api.HTTPClient, string) {
	t.Helper()
	return serve(t, server.Options{Dir: dir, Client: c, Version: "test", Commit: "abc"})
}

// serve serves a Server made with opts, and returns it, a client of it acting as user ada, and its URL; the
// server goes away with the test.
func serve(t *testing.T, opts server.Options) (*server.Server, *api.HTTPClient, string) {
	t.Helper()
	s, err := server.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	hc, err := api.NewHTTP(api.HTTPOptions{Endpoint: hs.URL, User: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	return s, hc, hs.URL
}

func TestRequestRunsAndIsRecorded(t *testing.T) {
	t.Parallel()
	_, c, _ := start(t, t.TempDir(), newCore())
	ctx := context.Background()
	op, err := c.Stop(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(); err != nil {
		t.Fatal(err)
	}
	q, err := c.Request(ctx, op.ID[:8])
	if err != nil {
		t.Fatal(err)
	}
	if q.ID != op.ID || q.Name != "stop" || q.User != "ada" || q.Cluster != "dev" || q.Status != api.RequestSucceeded {
		t.Errorf("request recorded as %+v", q)
	}
	cs, err := c.Status(ctx, nil, false)
	if err != nil || len(cs) != 1 || cs[0].Name != "dev" {
		t.Errorf("status through the server: %v, %v", cs, err)
	}
	// A typed error of the core arrives as the same type.
	_, err = c.Job(ctx, "dev", 7)
	var nf *api.JobNotFoundError
	if !errors.As(err, &nf) || nf.ID != 7 {
		t.Errorf("Job error = %v (%T), want *api.JobNotFoundError for job 7", err, err)
	}
}

func TestCancelReachesTheOperation(t *testing.T) {
	t.Parallel()
	cr := newCore()
	_, c, _ := start(t, t.TempDir(), cr)
	ctx := context.Background()
	op, err := c.Down(ctx, "dev", false)
	if err != nil {
		t.Fatal(err)
	}
	<-cr.started
	ids, err := c.CancelRequests(ctx, []string{op.ID}, false, false)
	if err != nil || len(ids) != 1 || ids[0] != op.ID {
		t.Fatalf("CancelRequests = %v, %v", ids, err)
	}
	var events []api.Event
	for e := range op.Events() {
		events = append(events, e)
	}
	if _, err := op.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	if len(events) != 1 || events[0].Msg != "Terminating dev" {
		t.Errorf("events = %+v", events)
	}
	q, err := c.Request(ctx, op.ID)
	if err != nil || q.Status != api.RequestCancelled || q.Error == nil || q.Error.Code != api.CodeCancelled {
		t.Errorf("request = %+v, %v; want CANCELLED", q, err)
	}
}

// A detached client leaves the request running; a later follower resumes from an offset.
func TestDetachAndResume(t *testing.T) {
	t.Parallel()
	cr := newCore()
	_, c, _ := start(t, t.TempDir(), cr)
	ctx, cancel := context.WithCancel(context.Background())
	op, err := c.Down(ctx, "dev", false)
	if err != nil {
		t.Fatal(err)
	}
	<-cr.started
	cancel()
	var detached *api.DetachedError
	if _, err := op.Wait(); !errors.As(err, &detached) || detached.ID != op.ID {
		t.Fatalf("Wait after the caller's context ended = %v, want *api.DetachedError", err)
	}
	q, err := c.Request(context.Background(), op.ID)
	if err != nil || q.Status != api.RequestRunning {
		t.Fatalf("request after detach = %+v, %v; want RUNNING", q, err)
	}
	lines, done, err := c.RequestEvents(context.Background(), op.ID, 1)
	if err != nil || len(lines) != 0 || done != nil {
		t.Errorf("events from offset 1 while running = %v, %v, %v", lines, done, err)
	}
	close(cr.release)
	end, err := c.FollowRequest(context.Background(), op.ID, func(api.Event) {})
	if err != nil || end.Status != api.RequestSucceeded {
		t.Errorf("followed to %+v, %v", end, err)
	}
	lines, done, err = c.RequestEvents(context.Background(), op.ID, 0)
	if err != nil || len(lines) != 1 || done == nil || done.Status != api.RequestSucceeded {
		t.Errorf("events from 0 after the end = %v, %v, %v", lines, done, err)
	}
}

// A server process that died with requests in flight: the next one over the same directory ends them FAILED
// with code server_restarted instead of leaving them RUNNING.
func TestRestartEndsRequestsLeftInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cr := newCore()
	_, c, _ := start(t, dir, cr)
	op, err := c.Down(context.Background(), "dev", false)
	if err != nil {
		t.Fatal(err)
	}
	<-cr.started
	// The first server still runs the request; the records say RUNNING. A second process over the same
	// database does not run it, as a process restarted after kill -9 would not.
	_, c2, _ := start(t, dir, newCore())
	q, err := c2.Request(context.Background(), op.ID)
	if err != nil || q.Status != api.RequestFailed || q.Error == nil || q.Error.Code != api.CodeServerRestarted {
		t.Errorf("request after restart = %+v, %v; want FAILED server_restarted", q, err)
	}
	close(cr.release)
}

// 100 clients at once, each a read and a request: no errors, every request recorded.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	_, c, _ := start(t, t.TempDir(), newCore())
	ctx := context.Background()
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Status(ctx, nil, false); err != nil {
				errs <- err
			}
			if _, err := api.Wait(c.Stop(ctx, fmt.Sprintf("c%d", i))); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	reqs, err := c.Requests(ctx, api.RequestFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range reqs {
		if q.Status != api.RequestSucceeded {
			t.Errorf("request %s for %s is %s", q.ID, q.Cluster, q.Status)
		}
		seen[q.Cluster] = true
	}
	if len(reqs) != n || len(seen) != n {
		t.Errorf("%d requests recorded for %d clusters, want %d", len(reqs), len(seen), n)
	}
}

// Bad input: each a clear error with a status code and a stable shape; nothing recorded; the server serves on.
func TestBadInput(t *testing.T) {
	t.Parallel()
	_, c, url := start(t, t.TempDir(), newCore())
	huge := `{"task": {"yaml": "` + strings.Repeat("x", server.MaxBodyBytes) + `"}}`
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"malformed JSON", "POST", "/api/v1/launch", `{"task": `, 400, api.CodeBadRequest, "malformed JSON body for POST /api/v1/launch"},
		{"unknown field", "POST", "/api/v1/stop", `{"clusterr": "dev"}`, 400, api.CodeBadRequest, `unknown field "clusterr"`},
		{"two values", "POST", "/api/v1/stop", `{"cluster": "a"} {}`, 400, api.CodeBadRequest, "more than one JSON value"},
		{"over the size limit", "POST", "/api/v1/launch", huge, 413, api.CodeTooLarge, "over the 16 MiB limit"},
		{"unknown route", "GET", "/api/v1/nothing", "", 404, api.CodeNotFound, "no route GET /api/v1/nothing"},
		{"wrong method", "GET", "/api/v1/launch", "", 404, api.CodeNotFound, "no route GET /api/v1/launch"},
		{"unknown request", "GET", "/api/v1/requests/feedface", "", 404, api.CodeRequestNotFound, `no request "feedface"`},
		{"unknown request's events", "GET", "/api/v1/requests/feedface/events", "", 404, api.CodeRequestNotFound, `no request "feedface"`},
		{"cancel unknown request", "POST", "/api/v1/requests/cancel", `{"request_ids": ["feedface"]}`, 404, api.CodeRequestNotFound, `no request "feedface"`},
		{"cancel nothing", "POST", "/api/v1/requests/cancel", `{}`, 400, api.CodeBadRequest, "name the requests to cancel"},
		{"bad job id", "GET", "/api/v1/clusters/dev/jobs/x", "", 400, api.CodeBadRequest, `job id must be a whole number`},
		{"bad offset", "GET", "/api/v1/requests/feedface/events?offset=-1", "", 400, api.CodeBadRequest, "offset must be"},
	} {
		req, _ := http.NewRequest(tt.method, url+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e api.Error
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("%s: body %q is not an api.Error: %v", tt.name, b, err)
			continue
		}
		if resp.StatusCode != tt.status || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("%s: %d %+v; want %d %s containing %q", tt.name, resp.StatusCode, e, tt.status, tt.code, tt.msg)
		}
	}
	reqs, err := c.Requests(context.Background(), api.RequestFilter{All: true, AllUsers: true})
	if err != nil || len(reqs) != 0 {
		t.Errorf("requests after bad input: %v, %v; want none", reqs, err)
	}
	if h, err := c.Health(context.Background()); err != nil || h.Status != "healthy" || h.Version != "test" || h.User != "ada" {
		t.Errorf("health after bad input = %+v, %v", h, err)
	}
}

func TestListenBeyondLoopbackNeedsTrustedNetwork(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if err := server.CheckListen(host, false); err != nil {
			t.Errorf("CheckListen(%s) = %v", host, err)
		}
	}
	err := server.Run(context.Background(), server.RunOptions{Host: "0.0.0.0", Options: server.Options{Dir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "refusing to listen on 0.0.0.0") || !strings.Contains(err.Error(), "--trusted-network") {
		t.Errorf("Run on 0.0.0.0 = %v", err)
	}
	if err := server.CheckListen("0.0.0.0", true); err != nil {
		t.Errorf("CheckListen(0.0.0.0, trusted) = %v", err)
	}
}

// 100 clients at once against the real core (the embedded client over a fresh STIX_HOME): every read answers,
// every request is recorded and ends with the core's answer (no such cluster), none lost.
func TestConcurrentClientsRealCore(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	t.Cleanup(func() { core.Close() })
	_, c, _ := start(t, filepath.Join(home, "server"), core)
	ctx := context.Background()
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Status(ctx, nil, false); err != nil {
				errs <- err
			}
			_, err := api.Wait(c.Stop(ctx, fmt.Sprintf("c%d", i)))
			var nf *api.ClusterNotFoundError
			if !errors.As(err, &nf) || nf.Name != fmt.Sprintf("c%d", i) {
				errs <- fmt.Errorf("stop c%d: %v, want cluster not found", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	reqs, err := c.Requests(ctx, api.RequestFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range reqs {
		if q.Status != api.RequestFailed || q.Error == nil || q.Error.Code != api.CodeClusterNotFound {
			t.Errorf("request %s for %s is %s (%+v)", q.ID, q.Cluster, q.Status, q.Error)
		}
	}
	if len(reqs) != n {
		t.Errorf("%d requests recorded, want %d", len(reqs), n)
	}
}

// A server that stops cancels its requests in flight; they say why.
func TestStopCancelsRequestsInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cr := newCore()
	s, c, _ := start(t, dir, cr)
	op, err := c.Down(context.Background(), "dev", false)
	if err != nil {
		t.Fatal(err)
	}
	<-cr.started
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, c2, _ := start(t, dir, newCore())
	q, err := c2.Request(context.Background(), op.ID)
	if err != nil || q.Status != api.RequestCancelled || q.Error == nil || !strings.Contains(q.Error.Message, "the API server stopped") {
		t.Errorf("request after stop = %+v, %v; want CANCELLED because the server stopped", q, err)
	}
}

// The record of a request keeps no secret's value; the core gets it.
func TestRequestRecordKeepsNoSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cr := newCore()
	var got map[string]string
	cr.LaunchFunc = func(r api.LaunchRequest) (api.LaunchResult, error) {
		got = r.Task.Secrets
		return api.LaunchResult{ClusterName: "dev"}, nil
	}
	s, c, _ := start(t, dir, cr)
	_, err := api.Wait(c.Launch(context.Background(), api.LaunchRequest{Task: api.TaskSpec{Command: "echo",
		Secrets: map[string]string{"HF_TOKEN": "hf-very-secret"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if got["HF_TOKEN"] != "hf-very-secret" {
		t.Errorf("the core got secrets %v", got)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "state.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "hf-very-secret") {
			t.Errorf("%s holds the secret's value", f)
		}
	}
}

// The upload handler, when given, serves /api/v1/uploads/ and sees paths relative to it.
func TestUploadsMounted(t *testing.T) {
	t.Parallel()
	s, err := server.New(context.Background(), server.Options{Dir: t.TempDir(), Client: newCore(),
		Uploads: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	resp, err := http.Post(hs.URL+"/api/v1/uploads/blobs/ab12", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "/blobs/ab12" {
		t.Errorf("the upload handler saw %q", b)
	}
}

// A second server over the directory of a running one is refused before it touches the requests.
func TestOneServerPerDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The files a running server in another process (here: this test's parent, alive) would have written.
	for name, text := range map[string]string{"server.pid": strconv.Itoa(os.Getppid()), "endpoint": "http://127.0.0.1:1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := server.Run(context.Background(), server.RunOptions{Host: "127.0.0.1", Options: server.Options{Dir: dir, Client: newCore()}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("an API server (pid %d) already runs over %s", os.Getppid(), dir)) {
		t.Errorf("Run = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state.db: %v; want none", err)
	}
}
