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
// state badges follow a stop without a reload, a new cluster is announced; the infra-less server's new pages
// (requests, cost with its SVG chart, tokens) fit the screen.
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

	for _, p := range []struct{ path, sel string }{
		{"/dashboard/requests", "#requests"}, {"/dashboard/costs", "#cost-chart"}, {"/dashboard/tokens", "#tokens"},
		{"/dashboard/workspaces", "#workspaces"},
	} {
		do(t, ctx, "open "+p.path, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		if eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`) {
			t.Errorf("%s is wider than a phone's screen", p.path)
		}
	}
}
