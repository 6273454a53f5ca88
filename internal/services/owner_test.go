package services

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
)

func as(name string, role auth.Role) context.Context {
	return auth.With(context.Background(), auth.Identity{Name: name, Role: role})
}

func serviceNames(ss []api.Service) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

// TestOwnServices: a user sees and acts on their own services only; another user's is as if it did not exist
// (as another user's managed job is), and an admin acts on it, and lists it with all users.
func TestOwnServices(t *testing.T) {
	w := newWorld(t)
	alice, bob, admin := as("alice", auth.RoleUser), as("bob", auth.RoleUser), as("root", auth.RoleAdmin)
	yaml := webService(t.TempDir(), 1)
	if _, err := api.Wait(w.ctl.ServeUp(alice, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}})); err != nil {
		t.Fatal(err)
	}
	// Ready first: tearing down a replica still launching is another matter (see the lifecycle tests).
	waitFor(t, w, "web", "READY", func(s api.Service) bool { return s.Status == api.ServiceReady })

	for who, ctx := range map[string]context.Context{"alice": alice, "admin with all users": api.WithAllUsers(admin)} {
		if ss, err := w.ctl.ServeStatus(ctx, nil); err != nil || len(ss) != 1 || ss[0].User != "alice" {
			t.Fatalf("%s: serve status: %+v %v", who, ss, err)
		}
	}
	for who, ctx := range map[string]context.Context{"bob": bob, "bob asking for all users": api.WithAllUsers(bob), "admin": admin} {
		if ss, err := w.ctl.ServeStatus(ctx, nil); err != nil || len(ss) != 0 {
			t.Fatalf("%s: serve status lists %v (%v), want none", who, serviceNames(ss), err)
		}
		if ss, err := w.ctl.ServeStatus(ctx, []string{"web"}); err != nil || len(ss) != 0 && who != "admin" {
			t.Fatalf("%s: serve status web lists %v (%v), want none", who, serviceNames(ss), err)
		}
	}

	var nf *api.ServiceNotFoundError
	_, err := w.ctl.ServeUpdate(bob, api.ServeUpdateRequest{Name: "web", Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}})
	if !errors.As(err, &nf) || nf.Name != "web" {
		t.Fatalf("bob updates alice's service: %v, want service not found", err)
	}
	if err := w.ctl.ServeLogs(bob, "web", api.ServeLogsOptions{Controller: true}, io.Discard); !errors.As(err, &nf) {
		t.Fatalf("bob reads alice's service's log: %v, want service not found", err)
	}
	if _, err := w.ctl.ServeDown(bob, api.ServeDownRequest{Names: []string{"web"}}); !errors.As(err, &nf) {
		t.Fatalf("bob tears alice's service down: %v, want service not found", err)
	}
	// bob's -a tears down bob's services: none; even asking for all users (he is no admin).
	for _, ctx := range []context.Context{bob, api.WithAllUsers(bob)} {
		out, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{All: true}))
		if err != nil || len(out) != 0 {
			t.Fatalf("bob's serve down -a: %+v %v, want nothing torn down", out, err)
		}
	}
	// The admin's -a without all users is the admin's own: none either.
	if out, err := api.Wait(w.ctl.ServeDown(admin, api.ServeDownRequest{All: true})); err != nil || len(out) != 0 {
		t.Fatalf("admin's serve down -a: %+v %v, want nothing torn down", out, err)
	}
	if ss, err := w.ctl.ServeStatus(alice, nil); err != nil || len(ss) != 1 || ss[0].Status == api.ServiceShuttingDown {
		t.Fatalf("alice's service after the others' attempts: %+v %v", ss, err)
	}

	// The admin reads and updates it by name, and tears down every user's with -a and all users.
	if err := w.ctl.ServeLogs(admin, "web", api.ServeLogsOptions{Controller: true}, io.Discard); err != nil {
		t.Fatalf("admin reads alice's service's log: %v", err)
	}
	if _, err := api.Wait(w.ctl.ServeUpdate(admin, api.ServeUpdateRequest{Name: "web", Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}})); err != nil {
		t.Fatalf("admin updates alice's service: %v", err)
	}
	out, err := api.Wait(w.ctl.ServeDown(api.WithAllUsers(admin), api.ServeDownRequest{All: true}))
	if err != nil || len(out) != 1 || out[0].Name != "web" {
		t.Fatalf("admin's serve down -a -u: %+v %v", out, err)
	}
}
