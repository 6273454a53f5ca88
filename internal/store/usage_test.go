package store

import (
	"math"
	"testing"
	"time"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	now := at(10)
	tests := []struct {
		name      string
		nodes     int
		price     float64
		intervals []Interval
		wantDur   time.Duration
		wantCost  float64
	}{
		{"never up", 1, 2, nil, 0, 0},
		{"one closed hour", 1, 2, []Interval{{at(1), at(2)}}, time.Hour, 2},
		{"nodes multiply", 4, 0.5, []Interval{{at(0), at(3)}}, 3 * time.Hour, 6},
		{"open interval counts to now", 2, 1, []Interval{{at(8), time.Time{}}}, 2 * time.Hour, 4},
		{"stopped and restarted", 1, 3, []Interval{{at(0), at(1)}, {at(4), at(4.5)}, {at(9), time.Time{}}},
			2*time.Hour + 30*time.Minute, 7.5},
		{"backwards interval counts zero", 1, 1, []Interval{{at(5), at(4)}}, 0, 0},
		{"open interval in the future counts zero", 1, 1, []Interval{{at(11), time.Time{}}}, 0, 0},
		{"free cluster", 8, 0, []Interval{{at(0), at(10)}}, 10 * time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &HistoryEntry{NumNodes: tt.nodes, HourlyPrice: tt.price, Intervals: tt.intervals}
			dur, cost := h.Usage(now)
			if dur != tt.wantDur || math.Abs(cost-tt.wantCost) > 1e-9 {
				t.Fatalf("Usage = %v, %v; want %v, %v", dur, cost, tt.wantDur, tt.wantCost)
			}
		})
	}
}

func TestLockFileName(t *testing.T) {
	t.Parallel()
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name  string
		plain bool // used as it is
	}{
		{"my-cluster_1.x", true},
		{"sky-serve-controller-1a2b", true},
		{"../../etc/passwd", false},
		{".hidden", false},
		{"a/b", false},
		{"a_b", true},
		{"ümlaut", false},
		{string(long), false},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := lockFileName(tt.name)
		if tt.plain && got != tt.name+".lock" {
			t.Errorf("lockFileName(%q) = %q, want the name as it is", tt.name, got)
		}
		if len(got) > 120 || got[0] == '.' {
			t.Errorf("lockFileName(%q) = %q: too long or hidden", tt.name, got)
		}
		for _, b := range []byte(got) {
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
				t.Errorf("lockFileName(%q) = %q has byte %q", tt.name, got, b)
			}
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%q and %q share lock file %q", tt.name, other, got)
		}
		seen[got] = tt.name
	}
}
