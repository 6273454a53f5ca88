package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/auth"
)

// TestExpiredSessionsAreForgotten: sessions whose browsers never came back do not pile up in memory.
func TestExpiredSessionsAreForgotten(t *testing.T) {
	t.Parallel()
	s := newSessions()
	t0 := time.Unix(1_000_000, 0)
	old := s.add(session{id: auth.Identity{Name: "ada"}, expires: t0.Add(time.Hour)}, t0)
	if id, err := s.identity(context.Background(), old, t0.Add(time.Minute), nil); err != nil || id.Name != "ada" {
		t.Fatalf("a live session: %v, %v", id, err)
	}
	s.add(session{id: auth.Identity{Name: "bob"}, expires: t0.Add(3 * time.Hour)}, t0.Add(2*time.Hour))
	if n := s.count(); n != 1 {
		t.Errorf("%d sessions kept, want 1: the expired one forgotten", n)
	}
	if _, err := s.identity(context.Background(), old, t0.Add(2*time.Hour), nil); err == nil {
		t.Error("an expired session still identifies its user")
	}
}
