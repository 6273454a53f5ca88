package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

// SkyServe's probing timing.
const (
	// ProbeInterval is how often every replica is probed.
	ProbeInterval = 10 * time.Second
	// FailingFor is how long a replica that was ready may fail its probe before it is replaced (FAILED_PROBING).
	FailingFor = 180 * time.Second
)

// Probe sends a replica its readiness probe once: a GET of the path, or a POST of post_data as JSON, with the
// probe's headers, within its timeout. Ready means a 200; anything else is an error that says what came back.
func Probe(ctx context.Context, c *http.Client, replicaURL string, p spec.ReadinessProbe) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.TimeoutSeconds*float64(time.Second)))
	defer cancel()
	method, body := http.MethodGet, io.Reader(nil)
	if p.PostData != nil {
		b, err := json.Marshal(p.PostData)
		if err != nil {
			return fmt.Errorf("encode post_data: %w", err)
		}
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(replicaURL, "/")+p.Path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, p.Path, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, p.Path, resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// Readiness follows one replica's probe results as SkyServe does, from the first probe after its launch. It is
// pure: the probe's time is passed in.
type Readiness struct {
	FirstReady    time.Time // the first probe that passed; zero: never
	FirstNotReady time.Time // the first probe that failed; the initial delay counts from it
	FailingSince  time.Time // the first of the failures since the replica was last ready
}

// Observe records one probe result and returns the replica's state: READY on success; before it was ever ready,
// STARTING within initial_delay_seconds and FAILED_INITIAL_DELAY after; once it was ready, NOT_READY until it
// has failed for FailingFor, then FAILED_PROBING. A FAILED_* state means: terminate the replica.
func (r *Readiness) Observe(ok bool, at time.Time, initialDelay time.Duration) ReplicaStatus {
	if ok {
		if r.FirstReady.IsZero() {
			r.FirstReady = at
		}
		r.FailingSince = time.Time{}
		return ReplicaReady
	}
	if r.FirstNotReady.IsZero() {
		r.FirstNotReady = at
	}
	if r.FirstReady.IsZero() {
		if at.Sub(r.FirstNotReady) > initialDelay {
			return ReplicaFailedInitialDelay
		}
		return ReplicaStarting
	}
	if r.FailingSince.IsZero() {
		r.FailingSince = at
	}
	if at.Sub(r.FailingSince) >= FailingFor {
		return ReplicaFailedProbing
	}
	return ReplicaNotReady
}
