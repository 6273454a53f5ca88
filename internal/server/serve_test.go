package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli/fakeclient"
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
