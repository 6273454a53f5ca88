package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/sqlitedb"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleCluster(name string) *Cluster {
	return &Cluster{
		Name:     name,
		Status:   StatusInit,
		Cloud:    "aws",
		Region:   "us-east-1",
		Zone:     "us-east-1a",
		NumNodes: 2,
		Resources: Resources{
			InstanceType: "p3.2xlarge", CPUs: 8, MemoryGB: 61,
			Accelerators: map[string]float64{"V100": 1}, UseSpot: true, DiskSizeGB: 256,
		},
		HourlyPrice:     3.06,
		Handle:          json.RawMessage(`{"head":"10.0.0.1","secret":"s3cr3t"}`),
		LaunchedAt:      t0,
		StatusUpdatedAt: t0,
		LastUse:         LastUse{At: t0, Command: "stix launch -c " + name + " task.yaml"},
		Autostop:        Autostop{IdleMinutes: 30, Down: true},
		User:            "alice",
		Workspace:       "team-a",
		ConfigHash:      "abc123",
		ClusterYAML:     "name: " + name,
		Assignment:      json.RawMessage(`{"offer":{"cloud":"aws","instance_type":"p3.2xlarge"},"candidate":1}`),
	}
}

// assertSameCluster compares clusters field by field, times by instant (the store returns them in local time).
func assertSameCluster(t *testing.T, got, want *Cluster) {
	t.Helper()
	norm := func(c *Cluster) Cluster {
		n := *c
		n.LaunchedAt, n.StatusUpdatedAt, n.LastUse.At = n.LaunchedAt.UTC(), n.StatusUpdatedAt.UTC(), n.LastUse.At.UTC()
		return n
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("cluster mismatch\n got: %+v\nwant: %+v", g, w)
	}
}

func TestClusterRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)

		want := sampleCluster("train")
		if err := s.PutCluster(ctx, want); err != nil {
			t.Fatal(err)
		}
		if want.ID == "" {
			t.Fatal("PutCluster did not set ID")
		}
		got, err := s.GetCluster(ctx, "train")
		if err != nil {
			t.Fatal(err)
		}
		assertSameCluster(t, got, want)

		// Upsert: same name, changed fields, same incarnation.
		id := want.ID
		want.Status, want.NumNodes, want.HourlyPrice = StatusUp, 4, 1.5
		want.Handle, want.Autostop = nil, Autostop{IdleMinutes: AutostopOff}
		want.LastUse = LastUse{}
		if err := s.PutCluster(ctx, want); err != nil {
			t.Fatal(err)
		}
		if want.ID != id {
			t.Fatalf("upsert changed the incarnation id from %s to %s", id, want.ID)
		}
		got, err = s.GetCluster(ctx, "train")
		if err != nil {
			t.Fatal(err)
		}
		assertSameCluster(t, got, want)

		if err := s.PutCluster(ctx, sampleCluster("eval")); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListClusters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Name != "eval" || list[1].Name != "train" {
			t.Fatalf("ListClusters = %v, want [eval train]", names(list))
		}
	})
}

func names(cs []*Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		tests := []struct {
			name string
			call func() error
		}{
			{"get", func() error { _, err := s.GetCluster(ctx, "nope"); return err }},
			{"set status", func() error { return s.SetClusterStatus(ctx, "nope", StatusUp, t0) }},
			{"delete", func() error { return s.DeleteCluster(ctx, "nope", t0) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.call()
				if !IsNotFound(err) {
					t.Fatalf("error %v, want one satisfying IsNotFound", err)
				}
				if !strings.Contains(err.Error(), `"nope"`) {
					t.Errorf("error %q should name the cluster", err)
				}
			})
		}
	})
}

func TestPutClusterRejectsInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		s := openTest(t, loc)
		tests := []struct {
			name   string
			modify func(c *Cluster)
		}{
			{"empty name", func(c *Cluster) { c.Name = "" }},
			{"bad status", func(c *Cluster) { c.Status = "RUNNING" }},
			{"zero nodes", func(c *Cluster) { c.NumNodes = 0 }},
			{"negative price", func(c *Cluster) { c.HourlyPrice = -1 }},
			{"bad handle", func(c *Cluster) { c.Handle = json.RawMessage("{not json") }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := sampleCluster("c")
				tt.modify(c)
				if err := s.PutCluster(context.Background(), c); err == nil {
					t.Fatal("PutCluster accepted an invalid cluster")
				}
			})
		}
		if err := s.PutCluster(context.Background(), nil); err == nil {
			t.Fatal("PutCluster accepted nil")
		}
		if err := s.SetClusterStatus(context.Background(), "c", "BOGUS", t0); err == nil {
			t.Fatal("SetClusterStatus accepted an invalid status")
		}
	})
}

// at returns t0 plus h hours.
func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func TestStatusTransitionsRecordUsage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		c := sampleCluster("c") // INIT at t0: no interval yet
		if err := s.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			status ClusterStatus
			at     float64
		}{
			{StatusUp, 1},      // opens [1, ...
			{StatusUp, 1.5},    // already open: no new interval
			{StatusInit, 2},    // still billed: stays open
			{StatusStopped, 3}, // closes [1, 3]
			{StatusStopped, 4}, // nothing open: no change
			{StatusUp, 5},      // opens [5, ...
		}
		for _, st := range steps {
			if err := s.SetClusterStatus(ctx, "c", st.status, at(st.at)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetCluster(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != StatusUp || !got.StatusUpdatedAt.Equal(at(5)) {
			t.Fatalf("status %s at %v, want UP at %v", got.Status, got.StatusUpdatedAt, at(5))
		}
		h := historyOf(t, s, c.ID)
		assertIntervals(t, h.Intervals, []Interval{{at(1), at(3)}, {at(5), time.Time{}}})

		// PutCluster's status change records usage the same way.
		c.Status, c.StatusUpdatedAt = StatusStopped, at(6)
		if err := s.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		assertIntervals(t, historyOf(t, s, c.ID).Intervals, []Interval{{at(1), at(3)}, {at(5), at(6)}})
	})
}

func historyOf(t *testing.T, s Store, id string) *HistoryEntry {
	t.Helper()
	hist, err := s.ClusterHistory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist {
		if h.ID == id {
			return h
		}
	}
	t.Fatalf("no history entry %s", id)
	return nil
}

func assertIntervals(t *testing.T, got, want []Interval) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].Start.Equal(want[i].Start) && got[i].End.Equal(want[i].End)
	}
	if !same {
		t.Fatalf("intervals\n got: %v\nwant: %v", got, want)
	}
}

func TestHistorySurvivesDeleteAndRelaunchIsNewEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)

		first := sampleCluster("c")
		first.Status = StatusUp
		if err := s.PutCluster(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCluster(ctx, "c", at(2)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetCluster(ctx, "c"); !IsNotFound(err) {
			t.Fatalf("GetCluster after delete: %v, want not found", err)
		}

		second := sampleCluster("c")
		second.Status, second.NumNodes, second.LaunchedAt, second.StatusUpdatedAt = StatusUp, 1, at(10), at(10)
		if err := s.PutCluster(ctx, second); err != nil {
			t.Fatal(err)
		}
		if second.ID == first.ID {
			t.Fatal("re-launch after down reused the incarnation id")
		}
		if err := s.SetClusterStatus(ctx, "c", StatusStopped, at(11)); err != nil {
			t.Fatal(err)
		}

		hist, err := s.ClusterHistory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[0].ID != first.ID || hist[1].ID != second.ID {
			t.Fatalf("history has %d entries, want the two incarnations in launch order", len(hist))
		}
		old, cur := hist[0], hist[1]
		if old.Name != "c" || old.NumNodes != 2 || old.Status != StatusUp || !old.DeletedAt.Equal(at(2)) ||
			!old.LaunchedAt.Equal(t0) || !reflect.DeepEqual(old.Resources, first.Resources) || old.HourlyPrice != 3.06 {
			t.Errorf("first incarnation %+v", old)
		}
		assertIntervals(t, old.Intervals, []Interval{{t0, at(2)}})
		if cur.NumNodes != 1 || cur.Status != StatusStopped || !cur.DeletedAt.IsZero() || !cur.LaunchedAt.Equal(at(10)) {
			t.Errorf("second incarnation %+v", cur)
		}
		assertIntervals(t, cur.Intervals, []Interval{{at(10), at(11)}})
	})
}

func TestDeleteClosesUsageAtItsStartWhenClockWentBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		c := sampleCluster("c")
		c.Status, c.StatusUpdatedAt = StatusUp, at(5)
		if err := s.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCluster(ctx, "c", at(4)); err != nil {
			t.Fatal(err)
		}
		assertIntervals(t, historyOf(t, s, c.ID).Intervals, []Interval{{at(5), at(5)}})
	})
}

func TestValues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		if _, ok, err := s.GetValue(ctx, "enabled_clouds"); err != nil || ok {
			t.Fatalf("GetValue of a missing key = ok %v, err %v; want false, nil", ok, err)
		}
		for _, v := range []string{`["local"]`, `["local","aws"]`, ""} {
			if err := s.SetValue(ctx, "enabled_clouds", v); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.GetValue(ctx, "enabled_clouds")
			if err != nil || !ok || got != v {
				t.Fatalf("GetValue = %q, %v, %v; want %q, true, nil", got, ok, err, v)
			}
		}
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s, err := OpenAt(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutCluster(ctx, sampleCluster("c")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openTest(t, loc)
		if _, err := s.GetCluster(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(loc.Home, StateFile))
		switch {
		case loc.DB != "": // PostgreSQL: nothing is written under the home
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("with PostgreSQL, %s exists (%v)", StateFile, err)
			}
		case err != nil:
			t.Fatal(err)
		case fi.Mode().Perm() != 0o600:
			t.Errorf("%s has mode %o, want 600", StateFile, fi.Mode().Perm())
		}
	})
}

// TestClusterFromVersion1Loads opens a state database written before clusters kept their assignment (schema
// version 1): the cluster loads with no assignment and in the default workspace, and a later put records one.
func TestClusterFromVersion1Loads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		db := openAtVersion(t, loc, dialectMigrations(loc.DB != "")[:1])
		for _, q := range []string{
			`INSERT INTO cluster_history (id, name, cloud, region, zone, num_nodes, resources, hourly_price, launched_at,
				status, status_updated_at) VALUES ('h1', 'old', 'local', 'local', '', 1, '{"cpus":4,"accelerators":{"H100":1}}',
				0, 1, 'UP', 1)`,
			`INSERT INTO clusters (name, history_id, handle, launched_at, last_use_at, last_use_command,
				autostop_idle_minutes, autostop_down, user_name, config_hash, cluster_yaml)
				VALUES ('old', 'h1', '{"cloud":"local"}', 1, NULL, 'stix launch', -1, FALSE, 'alice', '', '')`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		s := openTest(t, loc)
		c, err := s.GetCluster(ctx, "old")
		if err != nil {
			t.Fatal(err)
		}
		if c.Assignment != nil || c.Status != StatusUp || c.Resources.Accelerators["H100"] != 1 || string(c.Handle) != `{"cloud":"local"}` ||
			c.Workspace != api.DefaultWorkspace {
			t.Fatalf("old cluster loaded as %+v", c)
		}
		c.Assignment = json.RawMessage(`{"candidate":0}`)
		if err := s.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		if c, err = s.GetCluster(ctx, "old"); err != nil || string(c.Assignment) != `{"candidate":0}` {
			t.Fatalf("after put: %v, assignment %s", err, c.Assignment)
		}
	})
}

func TestOpenRejectsCorruptDatabase(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, StateFile), []byte(strings.Repeat("garbage ", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), home)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("error %q does not wrap %q", err, sqlitedb.ErrCorrupt)
	}
	if msg := err.Error(); !strings.Contains(msg, filepath.Join(home, StateFile)) || !strings.Contains(msg, "move the file aside") {
		t.Errorf("error %q should name the file and say what to do", msg)
	}
}

// TestOpenRejectsNewerSchema opens state written by a binary with one more migration: refused, saying where
// and what to do, and the database is left as it was.
func TestOpenRejectsNewerSchema(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		future := slices.Concat(dialectMigrations(loc.DB != ""), []string{"CREATE TABLE from_the_future (x INTEGER)"})
		openAtVersion(t, loc, future).Close()
		s, err := OpenAt(context.Background(), loc)
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded")
		}
		if !errors.Is(err, sqlitedb.ErrTooNew) {
			t.Fatalf("error %q does not wrap %q", err, sqlitedb.ErrTooNew)
		}
		where, hint := filepath.Join(loc.Home, StateFile), "move the file aside"
		if loc.DB != "" {
			where, hint = "PostgreSQL database", "upgrade this binary"
		}
		if msg := err.Error(); !strings.Contains(msg, where) || !strings.Contains(msg, hint) {
			t.Errorf("error %q should say where (%s) and what to do (%s)", msg, where, hint)
		}
	})
}

// TestConcurrentWritersInProcess runs writers on one shared store and on separate stores of the same home; none
// may fail with "database is locked".
func TestConcurrentWritersInProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		shared := openTest(t, loc)
		stores := []Store{shared, shared, openTest(t, loc), openTest(t, loc)}
		var wg sync.WaitGroup
		errs := make(chan error, len(stores))
		for w, s := range stores {
			wg.Go(func() {
				if err := writeClusters(ctx, s, fmt.Sprintf("w%d", w), 24); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		assertWritten(t, shared, len(stores), 24)
	})
}

// writeClusters launches, stops and restarts n clusters named prefix-i, and deletes the even ones.
func writeClusters(ctx context.Context, s Store, prefix string, n int) error {
	for i := range n {
		c := sampleCluster(fmt.Sprintf("%s-%d", prefix, i))
		steps := []func() error{
			func() error { return s.PutCluster(ctx, c) },
			func() error { return s.SetClusterStatus(ctx, c.Name, StatusUp, at(1)) },
			func() error { return s.SetClusterStatus(ctx, c.Name, StatusStopped, at(2)) },
			func() error { return s.SetClusterStatus(ctx, c.Name, StatusUp, at(3)) },
		}
		if i%2 == 0 {
			steps = append(steps, func() error { return s.DeleteCluster(ctx, c.Name, at(4)) })
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
	}
	return nil
}

// assertWritten checks what writeClusters left for each of writers writers.
func assertWritten(t *testing.T, s Store, writers, n int) {
	t.Helper()
	live, err := s.ListClusters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hist, err := s.ClusterHistory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != writers*n/2 || len(hist) != writers*n {
		t.Fatalf("%d live clusters and %d history entries, want %d and %d", len(live), len(hist), writers*n/2, writers*n)
	}
	for _, h := range hist {
		if len(h.Intervals) != 2 {
			t.Fatalf("%s has %d intervals, want 2", h.Name, len(h.Intervals))
		}
	}
}

// TestConcurrentWritersOfOneCluster has eight stores (eight connection pools, as eight processes) put one new
// cluster and bring it UP at once, without the cluster lock: every call succeeds, and there is one incarnation
// with one open usage span.
func TestConcurrentWritersOfOneCluster(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		stores := make([]Store, 8)
		for i := range stores {
			stores[i] = openTest(t, loc)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(stores))
		for _, s := range stores {
			wg.Go(func() {
				if err := s.PutCluster(ctx, sampleCluster("same")); err != nil {
					errs <- err
				}
				if err := s.SetClusterStatus(ctx, "same", StatusUp, at(1)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		hist, err := stores[0].ClusterHistory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 || len(hist[0].Intervals) != 1 {
			t.Fatalf("%d incarnations (want 1), the first with intervals %v (want one)", len(hist), hist[0].Intervals)
		}
	})
}
