package dashboard_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/jobs"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
)

// TestManagedJobOnARealController: a managed job launched through the API runs on the server's real
// controller (its own local cluster); its owner sees it listed, its page and its log to the end through the
// event stream; another user sees neither the row nor the page.
func TestManagedJobOnARealController(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	t.Cleanup(func() { core.Close() }) // after the controller's cleanup below: cleanups run last first
	loc, err := core.StateLocation()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenAt(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, "server")
	ctl, err := jobs.New(jobs.Options{Core: core, State: st, Dir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start()
	t.Cleanup(func() {
		ctl.Close()
		st.Close()
		// A job cluster left by a failed test goes too.
		cs, _ := core.Status(context.Background(), nil, false)
		for _, c := range cs {
			if _, err := api.Wait(core.Down(context.Background(), c.Name, true)); err != nil {
				t.Errorf("cleanup: down %s: %v", c.Name, err)
			}
		}
	})
	_, base := serve(t, server.Options{Dir: dir, State: loc, Client: ctl.Client(), Auth: auth.Config{ServiceAccounts: true}})
	ada := createToken(t, base, dir, "ada", "user")
	bob := createToken(t, base, dir, "bob", "user")
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, Token: ada})
	if err != nil {
		t.Fatal(err)
	}
	name := "hello-managed"
	res, err := api.Wait(c.JobsLaunch(t.Context(), api.JobsLaunchRequest{
		Task: api.TaskSpec{Command: "echo managed-hello", Overrides: api.TaskOverrides{Name: &name}}}))
	if err != nil || len(res.IDs) != 1 {
		t.Fatalf("jobs launch: %+v, %v", res, err)
	}
	id := strconv.FormatInt(res.IDs[0], 10)

	b := newBrowser(t, base)
	b.login(ada)
	_, body, _ := b.get("/dashboard/jobs")
	mustContain(t, "ada's managed jobs", body, "hello-managed", `href="/dashboard/jobs/`+id+`"`)
	// The log to the end: the stream ends when the job does.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/dashboard/jobs/"+id+"/log", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := readEvents(t, resp)
	waitFor(t, events, "log", "managed-hello")
	waitFor(t, events, "end", "SUCCEEDED")
	_, body, _ = b.get("/dashboard/jobs/" + id)
	mustContain(t, "the managed job's page", body, "Managed job "+id, `id="job-state">SUCCEEDED`, `id="tasks"`, `id="events"`)

	other := newBrowser(t, base)
	other.login(bob)
	_, body, _ = other.get("/dashboard/jobs")
	mustNotContain(t, "bob's managed jobs", body, "hello-managed")
	if code, _, _ := other.get("/dashboard/jobs/" + id); code != http.StatusNotFound {
		t.Errorf("bob opening ada's managed job: %d, want 404", code)
	}
	if code, _, _ := other.get("/dashboard/jobs/" + id + "/cancel"); code != http.StatusNotFound {
		t.Errorf("bob's cancel page of ada's managed job: %d, want 404", code)
	}
}
