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

// TestClustersListFollowsStates: the clusters page's event stream sends every state first, then each change
// (a stop, a cluster gone) as the core records it; a user's stream carries their own clusters only.
func TestClustersListFollowsStates(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	var mu sync.Mutex
	all, _ := f.StatusFunc(nil, false)
	f.StatusFunc = func([]string, bool) ([]api.Cluster, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(all), nil
	}
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: f, Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser},
		DashboardStateInterval: 10 * time.Millisecond})
	ada := newBrowser(t, base)
	ada.login(createToken(t, base, dir, "ada", "user"))
	_, body, _ := ada.get("/dashboard/clusters")
	mustContain(t, "the clusters page", body, `data-states="/dashboard/events/clusters"`, `data-state>UP</span>`)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/dashboard/events/clusters", nil)
	resp, err := ada.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("the states stream: %d %s", resp.StatusCode, ct)
	}
	events := readEvents(t, resp)
	next := func() map[string]string {
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
	if got, want := next(), map[string]string{"ada-dev": "UP", "ada-old": "STOPPED"}; !maps.Equal(got, want) {
		t.Fatalf("the first states: %v, want ada's clusters only: %v", got, want)
	}
	mu.Lock()
	all[0].Status = api.ClusterStopped // ada-dev
	all[2].Status = api.ClusterStopped // bob-gpu: not ada's, never sent to her
	mu.Unlock()
	if got, want := next(), map[string]string{"ada-dev": "STOPPED"}; !maps.Equal(got, want) {
		t.Fatalf("after the stop: %v, want %v", got, want)
	}
	mu.Lock()
	all = slices.Delete(all, 1, 2) // ada-old torn down
	mu.Unlock()
	if got, want := next(), map[string]string{"ada-old": ""}; !maps.Equal(got, want) {
		t.Fatalf("after the teardown: %v, want %v", got, want)
	}

	// The managed jobs and services lists have the same stream: ada's job 7 (not bob's 8), the service.
	for path, want := range map[string]map[string]string{
		"/dashboard/events/jobs":     {"7": "RUNNING"},
		"/dashboard/events/services": {"llm": "READY"},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		resp, err := ada.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		events = readEvents(t, resp)
		got := next()
		resp.Body.Close()
		if !maps.Equal(got, want) {
			t.Errorf("%s: the first states %v, want %v", path, got, want)
		}
	}
	_, body, _ = ada.get("/dashboard/jobs")
	mustContain(t, "the managed jobs page", body, `data-states="/dashboard/events/jobs?desc=1&amp;id=7&amp;sort=id" data-key="job"`, `<tr data-job="7">`)
	_, body, _ = ada.get("/dashboard/services")
	mustContain(t, "the services page", body, `data-key="service"`, `<tr data-service="llm">`, `data-state>READY</span>`)
}
