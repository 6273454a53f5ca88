package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/store"
)

// TestExpiredSessionsAreForgotten: sessions whose browsers never came back do not pile up in the database, and
// an expired one identifies nobody.
func TestExpiredSessionsAreForgotten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := OpenSessions(st)
	if err != nil {
		t.Fatal(err)
	}
	check := func(_ context.Context, method, user, credential string) (auth.Identity, error) {
		return auth.Identity{Name: user, Method: method}, nil
	}
	t0 := time.Unix(1_000_000, 0)
	old, err := s.add(ctx, session{user: "ada", method: auth.SessionBasic, credential: "c", expires: t0.Add(time.Hour)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s.identity(ctx, old, t0.Add(time.Minute), check); err != nil || id.Name != "ada" {
		t.Fatalf("a live session: %v, %v", id, err)
	}
	if _, err := s.add(ctx, session{user: "bob", method: auth.SessionBasic, credential: "c", expires: t0.Add(3 * time.Hour)}, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := countSessions(t, st); n != 1 {
		t.Errorf("%d sessions kept, want 1: the expired one forgotten", n)
	}
	if _, err := s.identity(ctx, old, t0.Add(2*time.Hour), check); err == nil {
		t.Error("an expired session still identifies its user")
	}
	if n, err := s.RemoveExpired(ctx, t0.Add(4*time.Hour)); err != nil || n != 1 {
		t.Errorf("garbage collection removed %d (%v), want bob's expired session", n, err)
	}
}

func countSessions(t *testing.T, st store.Store) int {
	t.Helper()
	sq, _ := store.SQLOf(st)
	var n int
	if err := sq.DB.QueryRow(`SELECT count(*) FROM dashboard_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
