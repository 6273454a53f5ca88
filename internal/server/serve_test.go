package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/services"
	"github.com/stix-run/stix/internal/store"
)

// serveCore is the server's core for the `serve` routes: the fake's answers, recording whether each call asked
// for every user's services (what the serve controller reads from its context).
type serveCore struct{ *jobsCore }

func (c *serveCore) ServeStatus(ctx context.Context, names []string) ([]api.Service, error) {
	c.saw(ctx, "ServeStatus")
	return c.Client.ServeStatus(ctx, names)
}

func (c *serveCore) ServeDown(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	c.saw(ctx, "ServeDown")
	return c.Client.ServeDown(ctx, req)
}

func newServeCore() *serveCore {
	return &serveCore{&jobsCore{Client: &fakeclient.Client{
		ServeStatusFunc: func([]string) ([]api.Service, error) { return []api.Service{{Name: "web", User: "ada"}}, nil },
		ServeDownFunc: func(api.ServeDownRequest) ([]api.ServeDownOutcome, error) {
			return []api.ServeDownOutcome{{Name: "web", Message: "terminated"}}, nil
		},
	}, user: map[string]string{}, allUsers: map[string]bool{}}}
}

// TestServeAllUsers: every user's services (?all_users=true) are for admins; a user asking is refused 403
// before anything is recorded, and an admin's ask reaches the controller.
func TestServeAllUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := newServeCore()
	user, _ := serveJobs(t, core, auth.RoleUser)
	if ss, err := user.ServeStatus(ctx, nil); err != nil || len(ss) != 1 {
		t.Fatalf("ada's services: %+v %v", ss, err)
	}
	if who, all := core.seen("ServeStatus"); who != "ada" || all {
		t.Errorf("serve status ran as %q (all users %v)", who, all)
	}
	_, err := user.ServeStatus(api.WithAllUsers(ctx), nil)
	wantStatus(t, err, http.StatusForbidden, "a user listing every user's services")
	_, err = user.ServeDown(api.WithAllUsers(ctx), api.ServeDownRequest{All: true})
	wantStatus(t, err, http.StatusForbidden, "a user tearing down every user's services")
	if reqs, err := user.Requests(ctx, api.RequestFilter{All: true}); err != nil || len(reqs) != 0 {
		t.Errorf("a refused serve down is not recorded: %+v, %v", reqs, err)
	}
	if _, all := core.seen("ServeDown"); all {
		t.Error("a refused all-users serve down reached the controller")
	}

	admin, _ := serveJobs(t, core, auth.RoleAdmin)
	if ss, err := admin.ServeStatus(api.WithAllUsers(ctx), nil); err != nil || len(ss) != 1 {
		t.Fatalf("every user's services: %+v %v", ss, err)
	}
	if _, all := core.seen("ServeStatus"); !all {
		t.Error("an admin's all-users serve status reached the controller without all users")
	}
	if _, err := api.Wait(admin.ServeDown(api.WithAllUsers(ctx), api.ServeDownRequest{All: true})); err != nil {
		t.Fatal(err)
	}
	if _, all := core.seen("ServeDown"); !all {
		t.Error("an admin's all-users serve down reached the controller without all users")
	}
}

// TestServicesBelongToTheirUser: over HTTP with tokens, through a real serve controller (over a fake core whose
// replicas never launch), bob cannot see, update, follow or tear down alice's service; an admin can.
func TestServicesBelongToTheirUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	st, err := store.OpenAt(ctx, store.Location{Home: home, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	core := &fakeclient.Client{
		ValidateFunc: func(api.TaskSpec) (*api.TaskCheck, error) { return &api.TaskCheck{Tasks: 1}, nil },
		LaunchFunc: func(api.LaunchRequest) (api.LaunchResult, error) {
			return api.LaunchResult{}, errors.New("no infra in this test")
		},
		StatusFunc: func([]string, bool) ([]api.Cluster, error) { return nil, nil },
		DownFunc:   func(string, bool) error { return nil },
	}
	ctl, err := services.New(services.Options{Core: core, State: st, Dir: filepath.Join(home, "server"), Scan: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start()
	t.Cleanup(func() { _ = ctl.Close() })
	url, dir := startServer(t, ctl.Client(core), auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser})
	adminTok, err := server.ReadInitialToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin := client(t, url, adminTok)
	tokens := map[string]string{}
	for _, n := range []string{"alice", "bob"} {
		tok, err := admin.CreateToken(ctx, api.TokenRequest{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		tokens[n] = tok.Token
	}
	alice, bob := client(t, url, tokens["alice"]), client(t, url, tokens["bob"])
	yaml := "service:\n  readiness_probe: /\n  replicas: 1\nresources:\n  ports: 8080\nrun: sleep 1000\n"
	task := api.TaskSpec{FileName: "web.yaml", YAML: yaml}
	if _, err := api.Wait(alice.ServeUp(ctx, api.ServeUpRequest{Name: "web", Task: task})); err != nil {
		t.Fatal(err)
	}
	if ss, err := alice.ServeStatus(ctx, nil); err != nil || len(ss) != 1 || ss[0].User != "alice" {
		t.Fatalf("alice's services: %+v %v", ss, err)
	}
	if ss, err := bob.ServeStatus(ctx, nil); err != nil || len(ss) != 0 {
		t.Fatalf("bob sees %+v (%v), want none", ss, err)
	}
	if ss, err := bob.ServeStatus(ctx, []string{"web"}); err != nil || len(ss) != 0 {
		t.Fatalf("bob sees web: %+v (%v), want none", ss, err)
	}
	_, err = bob.ServeStatus(api.WithAllUsers(ctx), nil)
	wantStatus(t, err, http.StatusForbidden, "bob listing every user's services")
	var nf *api.ServiceNotFoundError
	if _, err := api.Wait(bob.ServeUpdate(ctx, api.ServeUpdateRequest{Name: "web", Task: task})); !errors.As(err, &nf) {
		t.Fatalf("bob updates web: %v, want service not found", err)
	}
	if err := bob.ServeLogs(ctx, "web", api.ServeLogsOptions{Controller: true}, io.Discard); !errors.As(err, &nf) {
		t.Fatalf("bob follows web's log: %v, want service not found", err)
	}
	if _, err := api.Wait(bob.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}})); !errors.As(err, &nf) {
		t.Fatalf("bob tears web down: %v, want service not found", err)
	}
	if out, err := api.Wait(bob.ServeDown(ctx, api.ServeDownRequest{All: true})); err != nil || len(out) != 0 {
		t.Fatalf("bob's serve down -a: %+v %v, want nothing", out, err)
	}
	if ss, err := alice.ServeStatus(ctx, nil); err != nil || len(ss) != 1 || ss[0].Status == api.ServiceShuttingDown {
		t.Fatalf("alice's service after bob's attempts: %+v %v", ss, err)
	}

	if ss, err := admin.ServeStatus(api.WithAllUsers(ctx), nil); err != nil || len(ss) != 1 || ss[0].Name != "web" {
		t.Fatalf("every user's services: %+v %v", ss, err)
	}
	if err := admin.ServeLogs(ctx, "web", api.ServeLogsOptions{Controller: true}, io.Discard); err != nil {
		t.Fatalf("admin reads web's log: %v", err)
	}
	out, err := api.Wait(admin.ServeDown(api.WithAllUsers(ctx), api.ServeDownRequest{All: true}))
	if err != nil || len(out) != 1 || out[0].Name != "web" {
		t.Fatalf("admin's serve down -a -u: %+v %v", out, err)
	}
}
