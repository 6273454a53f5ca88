package serve

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/health" && r.Method == http.MethodGet:
		case r.URL.Path == "/v1/models" && r.Method == http.MethodPost && string(body) == `{"model":"m"}` &&
			r.Header.Get("Authorization") == "Bearer x" && r.Header.Get("Content-Type") == "application/json":
		case r.URL.Path == "/slow":
			<-r.Context().Done()
		default:
			http.Error(w, "loading model", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	tests := []struct {
		name  string
		probe spec.ReadinessProbe
		err   string
	}{
		{"GET 200", spec.ReadinessProbe{Path: "/health", TimeoutSeconds: 15}, ""},
		{"POST with headers", spec.ReadinessProbe{Path: "/v1/models", TimeoutSeconds: 15, PostData: map[string]any{"model": "m"},
			Headers: map[string]string{"Authorization": "Bearer x"}}, ""},
		{"not 200", spec.ReadinessProbe{Path: "/other", TimeoutSeconds: 15}, "GET /other: status 503: loading model"},
		{"timeout", spec.ReadinessProbe{Path: "/slow", TimeoutSeconds: 0.2}, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(ctx, c, srv.URL, tt.probe)
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Probe = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	delay := 60 * time.Second
	type obs struct {
		at   int // seconds after the first probe
		ok   bool
		want ReplicaStatus
	}
	tests := []struct {
		name string
		seq  []obs
	}{
		{"starts, then ready", []obs{{0, false, ReplicaStarting}, {50, false, ReplicaStarting}, {60, false, ReplicaStarting}, {70, true, ReplicaReady}}},
		{"never ready within the initial delay", []obs{{0, false, ReplicaStarting}, {60, false, ReplicaStarting}, {61, false, ReplicaFailedInitialDelay}}},
		{"ready, then failing for too long", []obs{{0, true, ReplicaReady}, {10, false, ReplicaNotReady}, {100, false, ReplicaNotReady},
			{189, false, ReplicaNotReady}, {190, false, ReplicaFailedProbing}}},
		{"a pass in between restarts the count", []obs{{0, true, ReplicaReady}, {10, false, ReplicaNotReady}, {150, true, ReplicaReady},
			{160, false, ReplicaNotReady}, {330, false, ReplicaNotReady}, {340, false, ReplicaFailedProbing}}},
		{"the initial delay does not apply once ready", []obs{{0, false, ReplicaStarting}, {30, true, ReplicaReady}, {100, false, ReplicaNotReady}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Readiness
			for _, o := range tt.seq {
				if got := r.Observe(o.ok, t0.Add(time.Duration(o.at)*time.Second), delay); got != o.want {
					t.Fatalf("at %d s (ok=%v): %s, want %s", o.at, o.ok, got, o.want)
				}
			}
		})
	}
}
