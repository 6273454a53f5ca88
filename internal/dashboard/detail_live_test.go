package dashboard_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
)

// TestClusterPageShowsNodes: a cluster's page has a table of its nodes (rank, role, state, addresses, instance,
// measured resources, place) with a caption and headers, and its states, nodes' and jobs' badges are marked
// for the page's event stream; a service's page marks its state, replicas and QPS the same way.
func TestClusterPageShowsNodes(t *testing.T) {
	t.Parallel()
	_, base := serve(t, server.Options{Client: newFleet(t)})
	b := newBrowser(t, base)
	code, body, _ := b.get("/dashboard/clusters/bob-gpu")
	if code != http.StatusOK {
		t.Fatalf("bob-gpu's page: %d\n%s", code, body)
	}
	mustContain(t, "bob-gpu's page", body, `<table id="nodes">`, `<caption class="sr-only">The nodes of cluster bob-gpu, the head first</caption>`,
		`<th scope="col">Internal IP</th>`, `<th scope="row">0</th><td>head</td>`, `<th scope="row">1</th><td>worker</td>`,
		"10.0.0.1", "10.0.0.2", "203.0.113.9", "a2-highgpu-8g", "96 CPUs, 680 GB, A100:8", "us-central1-a",
		`data-states="/dashboard/events/clusters/bob-gpu"`, `data-live="cluster"`, `data-live="node/1" data-state>UP</span>`,
		`data-live="job/2" data-state>RUNNING</span>`)

	_, body, _ = b.get("/dashboard/services/llm")
	mustContain(t, "llm's page", body, `data-states="/dashboard/events/services/llm"`, `data-live="service" data-state>READY</span>`,
		`data-live="replica/2" data-state>PROVISIONING</span>`, `<span id="qps" data-live="qps">2.5</span> (the last minute)`)
}

// TestDetailPagesFollowStates: a cluster's page's event stream sends the cluster's, its nodes' and its jobs'
// states, then each change (a stop; the cluster gone); a service's sends its state, its replicas' and its QPS.
// Another user's cluster has no stream for a user (the page's 403), nor has a cluster that does not exist (404).
func TestDetailPagesFollowStates(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	var mu sync.Mutex
	all, _ := f.StatusFunc(nil, false)
	all = slices.Clone(all)
	status := func(names []string, _ bool) ([]api.Cluster, error) {
		mu.Lock()
		defer mu.Unlock()
		var out []api.Cluster
		for _, c := range all {
			if len(names) == 0 || slices.Contains(names, c.Name) {
				out = append(out, c)
			}
		}
		if len(names) > 0 && len(out) == 0 {
			return nil, &api.ClusterNotFoundError{Name: names[0]}
		}
		return out, nil
	}
	f.StatusFunc = status
	svcs, _ := f.ServeStatusFunc(nil)
	f.ServeStatusFunc = func([]string) ([]api.Service, error) {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(svcs)
		for i := range out {
			out[i].Replicas = slices.Clone(out[i].Replicas)
		}
		return out, nil
	}
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: f, Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser},
		DashboardStateInterval: 10 * time.Millisecond})
	ada := newBrowser(t, base)
	ada.login(createToken(t, base, dir, "ada", "user"))
	bob := newBrowser(t, base)
	bob.login(createToken(t, base, dir, "bob", "user"))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	events := openStates(t, ctx, ada, base+"/dashboard/events/clusters/ada-dev")
	if got, want := nextStates(t, ctx, events), map[string]string{"cluster": "UP", "node/0": "UP", "job/1": "SUCCEEDED", "job/2": "RUNNING"}; !maps.Equal(got, want) {
		t.Fatalf("the first states: %v, want %v", got, want)
	}
	mu.Lock()
	all[0].Status = api.ClusterStopped // ada-dev
	mu.Unlock()
	if got, want := nextStates(t, ctx, events), map[string]string{"cluster": "STOPPED", "node/0": "STOPPED"}; !maps.Equal(got, want) {
		t.Fatalf("after the stop: %v, want %v (the jobs as they were)", got, want)
	}
	mu.Lock()
	all = slices.Delete(all, 0, 1) // ada-dev torn down
	mu.Unlock()
	if got, want := nextStates(t, ctx, events), map[string]string{"cluster": "", "node/0": "", "job/1": "", "job/2": ""}; !maps.Equal(got, want) {
		t.Fatalf("after the teardown: %v, want everything gone", got)
	}

	for _, tc := range []struct {
		who  *browser
		path string
		code int
	}{
		{bob, "/dashboard/events/clusters/ada-old", http.StatusForbidden},
		{ada, "/dashboard/events/clusters/bob-gpu", http.StatusForbidden},
		{ada, "/dashboard/events/clusters/nosuch", http.StatusNotFound},
		{ada, "/dashboard/events/services/nosuch", http.StatusNotFound},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+tc.path, nil)
		resp, err := tc.who.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Content-Type") == "text/event-stream" {
			t.Errorf("%s: %d %s, want %d and no stream", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code)
		}
	}

	events = openStates(t, ctx, ada, base+"/dashboard/events/services/llm")
	if got, want := nextStates(t, ctx, events), map[string]string{"service": "READY", "replica/1": "READY", "replica/2": "PROVISIONING", "qps": "2.5"}; !maps.Equal(got, want) {
		t.Fatalf("the service's first states: %v, want %v", got, want)
	}
	mu.Lock()
	svcs[0].Replicas[1].Status = "READY"
	svcs[0].QPS = 4
	mu.Unlock()
	if got, want := nextStates(t, ctx, events), map[string]string{"replica/2": "READY", "qps": "4.0"}; !maps.Equal(got, want) {
		t.Fatalf("after the replica came up: %v, want %v", got, want)
	}
}

// openStates opens a page's states stream as b and returns its events.
func openStates(t *testing.T, ctx context.Context, b *browser, url string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, ct)
	}
	return readEvents(t, resp)
}

// nextStates reads the next "states" event.
func nextStates(t *testing.T, ctx context.Context, events <-chan sseEvent) map[string]string {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok || ev.name != "states" {
			t.Fatalf("the stream ended, or sent %q instead of states", ev.name)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatalf("states %q: %v", ev.data, err)
		}
		return m
	case <-ctx.Done():
		t.Fatal("no states event within a minute")
	}
	return nil
}
