package server_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// seededRequest is a request row the page tests put in the state database directly.
type seededRequest struct {
	id, name, user, cluster string
	status                  api.RequestStatus
	created                 int64
}

// seedRequests inserts n finished requests in one transaction: users ada and bob, names launch and stop,
// states SUCCEEDED, FAILED and CANCELLED, clusters c-000 to c-(n-1).
func seedRequests(t *testing.T, loc store.Location, n int) []seededRequest {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenAt(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sq, _ := store.SQLOf(st)
	tx, err := sq.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	states := []api.RequestStatus{api.RequestSucceeded, api.RequestFailed, api.RequestCancelled}
	out := make([]seededRequest, n)
	for i := range out {
		q := seededRequest{id: fmt.Sprintf("req%05d", i), name: []string{"launch", "stop"}[i%2], user: []string{"bob", "ada", "ada"}[i%3],
			cluster: fmt.Sprintf("c-%03d", i), status: states[(i/3)%3], created: int64(1_700_000_000_000_000_000 + (i*7919)%n)}
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO requests (id, name, user_name, cluster, created, finished, status, body) VALUES (?, ?, ?, ?, ?, ?, ?, '{}')`),
			q.id, q.name, q.user, q.cluster, q.created, q.created+1, q.status); err != nil {
			t.Fatal(err)
		}
		out[i] = q
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRequestsFilterSortPage: GET /api/v1/requests filters (state, text ignoring case, wildcards taken as they
// are), sorts and pages in the database (SQLite, PostgreSQL) and says how many requests the filter keeps in
// X-Total-Count; a user sees only their own; a sort or state the API does not know is a 400 saying which.
func TestRequestsFilterSortPage(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			loc := store.Location{Home: t.TempDir()}
			if backend == "postgres" {
				loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
			}
			_, hc, base := serve(t, server.Options{Dir: t.TempDir(), State: loc, Client: newCore(), Auth: auth.Config{DefaultRole: auth.RoleUser}})
			seeded := seedRequests(t, loc, 300)

			// ada's FAILED requests on clusters c-1xx, by name then ID, the second page of 10 after 5.
			var want []string
			total := 0
			var keep []seededRequest
			for _, q := range seeded {
				if q.user == "ada" && q.status == api.RequestFailed && strings.Contains(q.cluster, "c-1") {
					keep = append(keep, q)
				}
			}
			slices.SortFunc(keep, func(a, b seededRequest) int { return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.id, b.id)) })
			total = len(keep)
			for _, q := range keep[5:15] {
				want = append(want, q.id)
			}
			got, n := getRequests(t, base, "?status=FAILED&q=C-1&sort=name&offset=5&limit=10")
			if !slices.Equal(got, want) || n != total {
				t.Errorf("page = %v of %d; want %v of %d", got, n, want, total)
			}
			l, err := hc.Requests(context.Background(), api.RequestFilter{Status: api.RequestFailed, Search: "C-1", Sort: "name", Offset: 5, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, q := range l {
				ids = append(ids, q.ID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("the client's page = %v; want %v", ids, want)
			}

			// Descending by creation, every state: ada's 200, the newest first; ties by ID.
			var ada []seededRequest
			for _, q := range seeded {
				if q.user == "ada" {
					ada = append(ada, q)
				}
			}
			slices.SortFunc(ada, func(a, b seededRequest) int {
				return -cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.id, b.id))
			})
			got, n = getRequests(t, base, "?all=true&sort=created&desc=true&offset=190&limit=100")
			if n != len(ada) || len(got) != 10 || got[0] != ada[190].id || got[9] != ada[199].id {
				t.Errorf("last page newest first = %v of %d; want %s..%s of %d", got, n, ada[190].id, ada[199].id, len(ada))
			}
			// % and _ are text, not wildcards.
			if got, n := getRequests(t, base, "?all=true&q=%25"); len(got) != 0 || n != 0 {
				t.Errorf("search for %% = %v of %d; want none", got, n)
			}
			if got, n := getRequests(t, base, "?all=true&q=c_1"); len(got) != 0 || n != 0 {
				t.Errorf("search for c_1 = %v of %d; want none", got, n)
			}
			for query, msg := range map[string]string{"?sort=cost": `got "cost"`, "?status=DONE": `"DONE" is not one of PENDING`} {
				resp, err := http.Get(base + "/api/v1/requests" + query)
				if err != nil {
					t.Fatal(err)
				}
				var e api.Error
				_ = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Message, msg) {
					t.Errorf("GET /api/v1/requests%s = %d %q; want 400 with %q", query, resp.StatusCode, e.Message, msg)
				}
			}
		})
	}
}

// getRequests lists requests as ada and returns their IDs and X-Total-Count.
func getRequests(t *testing.T, base, query string) ([]string, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/requests"+query, nil)
	req.Header.Set(api.HeaderUser, "ada")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/requests%s = %d", query, resp.StatusCode)
	}
	var l []api.Request
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(l))
	for _, q := range l {
		ids = append(ids, q.ID)
	}
	n, err := strconv.Atoi(resp.Header.Get(api.HeaderTotal))
	if err != nil {
		t.Fatalf("GET /api/v1/requests%s: X-Total-Count = %q", query, resp.Header.Get(api.HeaderTotal))
	}
	return ids, n
}
