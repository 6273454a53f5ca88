package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// heldLeaseTTL is the TTL of the lease that the lease-hold helper takes and never renews.
const heldLeaseTTL = 200 * time.Millisecond

func TestLeaseAcquireRenewRelease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		a, err := s.AcquireLease(ctx, "req-1", "server-a", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if a.Token != 1 || a.Holder != "server-a" || !a.Expires.After(time.Now().Add(50*time.Minute)) {
			t.Fatalf("first lease %+v, want token 1, held by server-a for an hour", a)
		}
		_, err = s.AcquireLease(ctx, "req-1", "server-b", time.Hour)
		if !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), `"server-a"`) {
			t.Fatalf("second holder's acquire: %v, want ErrLeaseHeld naming server-a", err)
		}
		if again, err := s.AcquireLease(ctx, "req-1", "server-a", time.Hour); err != nil || again.Token != 1 {
			t.Fatalf("holder's own re-acquire: %+v, %v; want the same lease, token 1", again, err)
		}
		if r, err := s.RenewLease(ctx, "req-1", "server-a", 2*time.Hour); err != nil || !r.Expires.After(a.Expires) {
			t.Fatalf("renew: %+v, %v; want a later expiry than %v", r, err, a.Expires)
		}
		if _, err := s.RenewLease(ctx, "req-1", "server-b", time.Hour); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("renew by a non-holder: %v, want ErrLeaseLost", err)
		}
		if err := s.ReleaseLease(ctx, "req-1", "server-b"); err != nil { // not the holder: does nothing
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, "req-1", "server-b", time.Hour); !errors.Is(err, ErrLeaseHeld) {
			t.Fatalf("acquire after a non-holder's release: %v, want ErrLeaseHeld", err)
		}
		if _, err := s.AcquireLease(ctx, "req-2", "server-b", time.Hour); err != nil { // leases are per name
			t.Fatal(err)
		}
		if err := s.ReleaseLease(ctx, "req-1", "server-a"); err != nil {
			t.Fatal(err)
		}
		b, err := s.AcquireLease(ctx, "req-1", "server-b", time.Hour)
		if err != nil || b.Token != 2 {
			t.Fatalf("acquire after release: %+v, %v; want token 2", b, err)
		}
		if _, err := s.RenewLease(ctx, "req-1", "server-a", time.Hour); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("renew by the former holder: %v, want ErrLeaseLost", err)
		}
		for _, bad := range []struct {
			name, holder string
			ttl          time.Duration
		}{{"", "h", time.Hour}, {"n", "", time.Hour}, {"n", "h", 0}} {
			if _, err := s.AcquireLease(ctx, bad.name, bad.holder, bad.ttl); err == nil {
				t.Errorf("AcquireLease(%q, %q, %v) succeeded", bad.name, bad.holder, bad.ttl)
			}
		}
	})
}

// TestLeaseExpires: a lease not renewed within its TTL can be taken by another holder, and its former holder
// learns on renewal that it lost it. (A TTL of a microsecond has lapsed by the next statement.)
func TestLeaseExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		if _, err := s.AcquireLease(ctx, "req", "dead", time.Microsecond); err != nil {
			t.Fatal(err)
		}
		l, err := s.AcquireLease(ctx, "req", "alive", time.Hour)
		if err != nil || l.Token != 2 {
			t.Fatalf("taking over an expired lease: %+v, %v; want token 2", l, err)
		}
		if _, err := s.RenewLease(ctx, "req", "dead", time.Hour); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("renewing an expired lease: %v, want ErrLeaseLost", err)
		}
	})
}

// TestLeaseRace starts three processes and eight goroutines (each on its own connections) that all try to take
// one lease at once: exactly one wins.
func TestLeaseRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		var helpers []*helper
		for range 3 {
			h := startHelper(t, "lease-race", loc, "req")
			h.expect("ready")
			helpers = append(helpers, h)
		}
		stores := make([]Store, 8)
		for i := range stores {
			stores[i] = openTest(t, loc)
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []error
		)
		for _, h := range helpers {
			h.tell()
		}
		for i, s := range stores {
			wg.Go(func() {
				_, err := s.AcquireLease(ctx, "req", fmt.Sprintf("goroutine-%d", i), time.Hour)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ErrLeaseHeld):
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		for _, h := range helpers {
			line, err := h.out.ReadString('\n')
			if err != nil {
				t.Fatalf("helper: %v", err)
			}
			if line == "won\n" {
				wins++
			}
			h.wait()
		}
		for _, err := range errs {
			t.Error(err)
		}
		if wins != 1 {
			t.Fatalf("%d holders took the lease, want exactly 1", wins)
		}
	})
}

// TestLeaseOfKilledHolderExpires kills (SIGKILL) a process that holds a lease: once its TTL passes, another
// holder takes the lease over.
func TestLeaseOfKilledHolderExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		s := openTest(t, loc)
		holder := startHelper(t, "lease-hold", loc, "req")
		holder.expect("leased")
		if err := holder.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		holder.cmd.Wait()
		// Try until the lease lapses; the timeout is a safety net against a lease that never does.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tick := time.NewTicker(heldLeaseTTL / 4)
		defer tick.Stop()
		for {
			l, err := s.AcquireLease(ctx, "req", "successor", time.Hour)
			if err == nil {
				if l.Token != 2 {
					t.Fatalf("took over with token %d, want 2", l.Token)
				}
				return
			}
			if !errors.Is(err, ErrLeaseHeld) {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
				t.Fatal("the killed holder's lease never expired")
			case <-tick.C:
			}
		}
	})
}

// TestRenewLeasesAtOnce: one statement renews every lease its holder still has among those named, and says
// which; LiveLeases lists the live ones under a prefix with their holders.
func TestRenewLeasesAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		for _, l := range []struct{ name, holder string }{{"job/1", "a"}, {"job/2", "a"}, {"job/3", "b"}, {"other/1", "a"}} {
			if _, err := s.AcquireLease(ctx, l.name, l.holder, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ReleaseLease(ctx, "job/2", "a"); err != nil {
			t.Fatal(err)
		}
		got, err := RenewLeases(ctx, s, "a", []string{"job/1", "job/2", "job/3", "job/9"}, 2*time.Hour)
		if err != nil || fmt.Sprint(got) != "[job/1]" {
			t.Fatalf("RenewLeases = %v, %v; want [job/1] (job/2 released, job/3 b's, job/9 never taken)", got, err)
		}
		if got, err := RenewLeases(ctx, s, "a", nil, time.Hour); err != nil || len(got) != 0 {
			t.Errorf("RenewLeases of none = %v, %v", got, err)
		}
		live, err := LiveLeases(ctx, s, "job/")
		if err != nil || fmt.Sprint(live) != "map[job/1:a job/3:b]" {
			t.Errorf("LiveLeases = %v, %v", live, err)
		}
	})
}
