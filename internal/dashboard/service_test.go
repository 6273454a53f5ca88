package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/services"
	"github.com/stix-run/stix/internal/store"
)

// TestServiceOnARealController: a service started through the API on the server's real serve controller (a
// replica running Python's HTTP server on local infra) shows with its replica, version and endpoint; torn down
// from the dashboard's form, it goes away.
func TestServiceOnARealController(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	loc, err := core.StateLocation()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenAt(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, "server")
	ctl, err := services.New(services.Options{Core: core, State: st, Dir: dir, Log: slog.New(slog.DiscardHandler),
		ProbeInterval: 100 * time.Millisecond, Scan: 200 * time.Millisecond, CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start()
	t.Cleanup(func() {
		ctl.Close()
		ctx := context.Background()
		cs, _ := core.Status(ctx, nil, false)
		for _, c := range cs {
			if _, err := api.Wait(core.Down(ctx, c.Name, true)); err != nil {
				t.Errorf("cleanup: down %s: %v", c.Name, err)
			}
		}
		core.Close()
		st.Close()
	})
	_, base := serve(t, server.Options{Dir: dir, State: loc, Client: ctl.Client(core)})
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, User: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	web := t.TempDir()
	yaml := fmt.Sprintf(`service:
  readiness_probe: /
  replicas: 1
resources:
  ports: 8080
run: python3 -m http.server 8080 --bind "$(echo "$SKYPILOT_NODE_IPS" | head -n1)" --directory %s
`, web)
	if _, err := api.Wait(c.ServeUp(t.Context(), api.ServeUpRequest{Name: "web", Task: api.TaskSpec{YAML: yaml}})); err != nil {
		t.Fatal(err)
	}
	waitService(t, c, func(ss []api.Service) bool { return len(ss) == 1 && ss[0].Status == "READY" })

	b := newBrowser(t, base)
	_, body, _ := b.get("/dashboard/services")
	mustContain(t, "the services", body, `href="/dashboard/services/web"`, "READY", "1/1")
	_, body, _ = b.get("/dashboard/services/web")
	mustContain(t, "the service's page", body, "Service web", `id="replicas"`, "READY", "/dashboard/services/web/down")

	code, body, loc2 := b.post("/dashboard/services/web/down", url.Values{"csrf": {b.csrf("/dashboard/services/web/down")}})
	if code != http.StatusSeeOther || loc2 != "/dashboard/services/web" {
		t.Fatalf("tear down: %d to %q:\n%s", code, loc2, body)
	}
	waitService(t, c, func(ss []api.Service) bool { return len(ss) == 0 })
	code, body, _ = b.get("/dashboard/services/web")
	if code != http.StatusNotFound {
		t.Errorf("the page of the torn-down service: %d, want 404", code)
	}
	mustContain(t, "the page of the torn-down service", body, "Tear down service web: requested")
}

// waitService polls the API's service list until ok accepts it, for at most three minutes.
func waitService(t *testing.T, c api.Client, ok func([]api.Service) bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ss, err := c.ServeStatus(context.Background(), nil)
		if err == nil && ok(ss) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("services not as wanted within three minutes: %+v, %v", ss, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
