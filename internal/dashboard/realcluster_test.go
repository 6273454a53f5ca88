package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
)

// realServer is an API server over a real embedded core (local infra: real agents), without authentication,
// and a client of it acting as user ada.
func realServer(t *testing.T, opts server.Options) (string, *api.HTTPClient, api.Client) {
	t.Helper()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	t.Cleanup(func() { core.Close() })
	opts.Client = core
	if opts.Dir == "" {
		opts.Dir = filepath.Join(home, "server")
	}
	_, base := serve(t, opts)
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, User: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	return base, c, core
}

// launchWaiting launches cluster name through the API (as c's user) with a job that prints "first", waits for
// the file gate, then prints "second"; the cluster is torn down after the test.
func launchWaiting(t *testing.T, c *api.HTTPClient, core api.Client, name, gate string) int {
	t.Helper()
	res, err := api.Wait(c.Launch(t.Context(), api.LaunchRequest{
		Task:    api.TaskSpec{Command: "echo first; while [ ! -e " + gate + " ]; do sleep 0.05; done; echo second"},
		Options: api.LaunchOptions{ClusterName: name}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := api.Wait(core.Down(context.Background(), name, false)); err != nil {
			t.Error(err)
		}
	})
	return res.JobID
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data, id string }

// readEvents reads events from an event stream onto a channel, closed at the stream's end.
func readEvents(t *testing.T, resp *http.Response) <-chan sseEvent {
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				ch <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch
}

// waitFor reads events until one whose data contains want (a "log" event's output, or an "end"'s state), and
// returns its ID.
func waitFor(t *testing.T, ch <-chan sseEvent, name, want string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	var seen []string
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended before a %s event with %q; saw %q", name, want, seen)
			}
			seen = append(seen, ev.name+" "+ev.data)
			if ev.name == name && strings.Contains(decoded(ev.data), want) {
				return ev.id
			}
		case <-deadline:
			t.Fatalf("no %s event with %q within a minute; saw %q", name, want, seen)
		}
	}
}

func decoded(data string) string {
	var v map[string]string
	if json.Unmarshal([]byte(data), &v) != nil {
		return data
	}
	return v["out"] + v["status"] + v["message"]
}

// TestLogStreamsLiveAndStopActs: on a real cluster launched through the API, the job's log arrives on the
// page's event stream as the job writes it (the second line only after the test lets the job go on), ends
// with the job's state; then the cluster is stopped from the dashboard's form, and the cluster's page's states
// stream (the real core's nodes and queue) follows the stop.
func TestLogStreamsLiveAndStopActs(t *testing.T) {
	t.Parallel()
	base, c, core := realServer(t, server.Options{DashboardStateInterval: 20 * time.Millisecond})
	gate := filepath.Join(t.TempDir(), "go")
	id := launchWaiting(t, c, core, "live1", gate)

	b := newBrowser(t, base)
	_, body, _ := b.get("/dashboard/clusters")
	mustContain(t, "the clusters", body, `data-cluster="live1"`, "UP")

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/dashboard/clusters/live1/jobs/"+strconv.Itoa(id)+"/log", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("log stream: %d %s", resp.StatusCode, ct)
	}
	events := readEvents(t, resp)
	waitFor(t, events, "log", "first")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, "log", "second")
	last := waitFor(t, events, "end", "SUCCEEDED")

	// Resuming after the last byte seen (the browser's Last-Event-ID) sends nothing of the output again.
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"/dashboard/clusters/live1/jobs/"+strconv.Itoa(id)+"/log", nil)
	req.Header.Set("Last-Event-ID", last)
	resp2, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	for ev := range readEvents(t, resp2) {
		if ev.name == "log" {
			t.Errorf("resumed at the end, the stream sent output again: %s", ev.data)
		}
	}

	states := openStates(t, ctx, b, base+"/dashboard/events/clusters/live1")
	job := "job/" + strconv.Itoa(id)
	seen := nextStates(t, ctx, states)
	if seen["cluster"] != "UP" || seen["node/0"] != "UP" || seen[job] != "SUCCEEDED" {
		t.Fatalf("the cluster's first states: %v; want it, its node UP and %s SUCCEEDED", seen, job)
	}
	code, body, loc := b.post("/dashboard/clusters/live1/stop", url.Values{"csrf": {b.csrf("/dashboard/clusters/live1/stop")}})
	if code != http.StatusSeeOther {
		t.Fatalf("stop: %d:\n%s", code, body)
	}
	waitClusterStatus(t, c, "live1", api.ClusterStopped)
	_, body, _ = b.get(loc)
	mustContain(t, "the cluster after the stop", body, `id="cluster-state">STOPPED`, "Stop cluster live1: requested")
	for seen["cluster"] != "STOPPED" || seen["node/0"] != "STOPPED" {
		maps.Copy(seen, nextStates(t, ctx, states))
		if seen[job] != "SUCCEEDED" {
			t.Fatalf("the stream's %s after the stop: %q, want SUCCEEDED (kept)", job, seen[job])
		}
	}
	// Stopping it again: nothing is done, and the page says why.
	code, body, _ = b.post("/dashboard/clusters/live1/stop", url.Values{"csrf": {b.csrf("/dashboard/clusters/live1/start")}})
	if code != http.StatusConflict {
		t.Errorf("stopping a STOPPED cluster: %d, want 409:\n%s", code, body)
	}
}

// waitClusterStatus polls the API until cluster name is in state want, for at most two minutes.
func waitClusterStatus(t testing.TB, c api.Client, name string, want api.ClusterStatus) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cs, err := c.Status(context.Background(), []string{name}, false)
		if err == nil && len(cs) == 1 && cs[0].Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s not %s within two minutes: %+v, %v", name, want, cs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
