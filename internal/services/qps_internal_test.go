package services

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/serve"
)

// TestSavedQPS: a service's QPS is the last minute's requests in its autoscaler's saved state; older requests,
// and a service with no saved state, count nothing.
func TestSavedQPS(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	st, err := json.Marshal(serve.AutoscalerState{Requests: []serve.Bucket{
		{Second: now.Unix() - 120, Count: 600}, // out of the window
		{Second: now.Unix() - 30, Count: 90},
		{Second: now.Unix() - 1, Count: 30},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := savedQPS(string(st), now); got != 2 {
		t.Errorf("QPS = %v, want 2 (120 requests in the last 60 s)", got)
	}
	for _, s := range []string{"", "{", `{"target":1}`} {
		if got := savedQPS(s, now); got != 0 {
			t.Errorf("QPS of saved state %q = %v, want 0", s, got)
		}
	}
}
