package dashboard_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/server"
)

// TestBrowserLiveStatesAndNewPages drives Chromium at a phone's width over a local server: the clusters list's
// state badges follow a stop without a reload, a new cluster is announced; a cluster's page follows a stop made
// through the API (the cluster's and its nodes' badges, a note to reload for the actions), a service's page its
// replicas' states and its QPS; a cluster's page with its nodes, a service's, and the infra-less server's new
// pages (requests, cost with its SVG chart, tokens) fit the screen.
func TestBrowserLiveStatesAndNewPages(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 390, 844)
	f := newFleet(t)
	var mu sync.Mutex
	all, _ := f.StatusFunc(nil, false)
	f.StatusFunc = func([]string, bool) ([]api.Cluster, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(all), nil
	}
	_, base := serve(t, server.Options{Client: f, DashboardStateInterval: 20 * time.Millisecond})

	do(t, ctx, "open the clusters", chromedp.Navigate(base+"/dashboard/clusters"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="ada-dev"]`)))
	waitText(t, ctx, `tr[data-cluster="ada-dev"] [data-state]`, "UP")
	// The page has the stream's first states: what changes now is news to it.
	do(t, ctx, "follow the states", chromedp.WaitReady(chromedp.CSS(`#clusters[data-following="1"]`)))
	mu.Lock()
	all[0].Status = api.ClusterStopped
	all = append(all, api.Cluster{Name: "new-one", Status: api.ClusterInit, User: "ada"})
	mu.Unlock()
	waitText(t, ctx, `tr[data-cluster="ada-dev"] [data-state]`, "STOPPED")
	waitText(t, ctx, "#live", "1 new cluster: reload to see it")
	if c := text(t, ctx, `tr[data-cluster="bob-gpu"] [data-state]`); c != "UP" {
		t.Errorf("bob-gpu's badge says %q, want UP (unchanged)", c)
	}

	// A cluster's page follows its state and its nodes' when the cluster is stopped through the API.
	f.StopFunc = func(name string) error {
		mu.Lock()
		defer mu.Unlock()
		for i := range all {
			if all[i].Name == name {
				all[i].Status = api.ClusterStopped
			}
		}
		return nil
	}
	do(t, ctx, "open bob-gpu's page", chromedp.Navigate(base+"/dashboard/clusters/bob-gpu"),
		chromedp.WaitVisible(chromedp.CSS(`#nodes`)), chromedp.WaitReady(chromedp.CSS(`#detail[data-following="1"]`)))
	waitText(t, ctx, `[data-live="node/1"]`, "UP")
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Wait(c.Stop(t.Context(), "bob-gpu")); err != nil {
		t.Fatalf("stop bob-gpu through the API: %v", err)
	}
	waitText(t, ctx, `[data-live="cluster"]`, "STOPPED")
	waitText(t, ctx, `[data-live="node/0"]`, "STOPPED")
	waitText(t, ctx, `[data-live="node/1"]`, "STOPPED")
	waitText(t, ctx, "#live", "The cluster is now STOPPED")
	if c := text(t, ctx, `[data-live="job/2"]`); c != "RUNNING" {
		t.Errorf("job 2's badge says %q, want RUNNING (unchanged)", c)
	}

	// A service's page follows its replicas' states and its QPS.
	svcs, _ := f.ServeStatusFunc(nil)
	f.ServeStatusFunc = func([]string) ([]api.Service, error) {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(svcs)
		out[0].Replicas = slices.Clone(out[0].Replicas)
		return out, nil
	}
	do(t, ctx, "open llm's page", chromedp.Navigate(base+"/dashboard/services/llm"),
		chromedp.WaitReady(chromedp.CSS(`#detail[data-following="1"]`)))
	mu.Lock()
	svcs[0].Replicas = slices.Clone(svcs[0].Replicas)
	svcs[0].Replicas[1].Status = "READY"
	svcs[0].QPS = 4
	mu.Unlock()
	waitText(t, ctx, `[data-live="replica/2"]`, "READY")
	waitText(t, ctx, "#qps", "4.0")

	for _, p := range []struct{ path, sel string }{
		{"/dashboard/clusters/bob-gpu", "#nodes"}, {"/dashboard/services/llm", "#replicas"},
		{"/dashboard/requests", "#requests"}, {"/dashboard/costs", "#cost-chart"}, {"/dashboard/tokens", "#tokens"},
		{"/dashboard/workspaces", "#workspaces"},
	} {
		do(t, ctx, "open "+p.path, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		if eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`) {
			t.Errorf("%s is wider than a phone's screen", p.path)
		}
	}
}
