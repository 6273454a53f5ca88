// Package provision is the launch loop: ask the planner for the best place, try to provision there, and on a
// typed infrastructure error block that zone, region or cloud and ask again, until a cluster is up or nothing
// is left. With retry-until-up it starts over, after a backoff, when everything failed. It decides from the
// typed errors of package cloud only (cloud.ScopeOf), never from message text.
package provision

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
)

// Assignment is the plan of one cluster: the offer it runs on, the task's resources candidate that offer
// answers, what each node was asked for and what a job of the task takes of each node. It is decided once, at
// launch, and kept with the cluster (store.Cluster.Assignment, as JSON), so that nothing re-derives it.
type Assignment struct {
	Offer cloud.Offer `json:"offer"`
	// Candidate is the index of the chosen candidate among the task's (spec.Resources.Candidates order).
	Candidate int `json:"candidate"`
	// Requirements are what each node was asked for; NumNodes is the cluster's size.
	Requirements cloud.Requirements `json:"requirements"`
	// Demand is what one job of the task takes of each node it runs on.
	Demand Demand `json:"demand"`
}

// Demand is what a job takes of each node it runs on: the head agent's accounting (agent.Demand on the wire).
type Demand struct {
	CPUs         float64            `json:"cpus,omitempty"`
	Accelerators map[string]float64 `json:"accelerators,omitempty"`
}

// Planner returns the best assignment whose offer no scope in blocked covers, or an error when none is left.
type Planner func(blocked []cloud.Scope) (Assignment, error)

// Provisioner tries to bring a cluster up as a says.
type Provisioner func(ctx context.Context, a Assignment) (*cloud.ClusterInfo, error)

// Loop is one launch's failover loop. Plan and Provision are required.
type Loop struct {
	Plan      Planner
	Provision Provisioner
	// RetryUntilUp starts over, with backoff, when every candidate failed (`launch -r`).
	RetryUntilUp bool
	// Wait sleeps between rounds; ctx ending stops it. time-based by default, a fake in tests.
	Wait func(ctx context.Context, d time.Duration) error
	// Progress receives a line per attempt; nil discards them.
	Progress api.ProgressFunc
}

// Attempt is one provisioning try that failed.
type Attempt struct {
	Offer cloud.Offer
	Err   error
}

// Error is the launch loop's failure: every attempt made, and why planning stopped.
type Error struct {
	Attempts []Attempt
	// Last is the planner's error when it ran out of candidates, or the provisioning error that is not an
	// infrastructure error (and so not worth another place).
	Last error
}

func (e *Error) Error() string {
	if len(e.Attempts) == 0 {
		return e.Last.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "failed to provision on every candidate (%d tried):\n", len(e.Attempts))
	b.WriteString(Table(e.Attempts))
	if e.Last != nil {
		fmt.Fprintf(&b, "then: %v", e.Last)
	}
	return strings.TrimRight(b.String(), "\n")
}

func (e *Error) Unwrap() error { return e.Last }

// Table renders attempts as SkyPilot's failover summary: INFRA | RESOURCES | REASON.
func Table(attempts []Attempt) string {
	rows := [][3]string{{"INFRA", "RESOURCES", "REASON"}}
	for _, a := range attempts {
		rows = append(rows, [3]string{place(a.Offer), resources(a.Offer), firstLine(a.Err.Error())})
	}
	var width [3]int
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  %-*s  %s\n", width[0], r[0], width[1], r[1], r[2])
	}
	return b.String()
}

// backoff is the wait before round n (1-based) of retry-until-up: doubling from 5 s, capped at 5 minutes.
func backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// Run plans and provisions until a cluster is up. It returns the cluster, the assignment it was provisioned
// for, and every attempt that failed before it (for the record), or an *Error.
func (l Loop) Run(ctx context.Context) (*cloud.ClusterInfo, Assignment, []Attempt, error) {
	wait := l.Wait
	if wait == nil {
		wait = sleep
	}
	var all []Attempt
	for round := 1; ; round++ {
		var blocked []cloud.Scope
		for {
			a, err := l.Plan(blocked)
			if err != nil {
				if !l.RetryUntilUp || len(all) == 0 {
					return nil, Assignment{}, all, &Error{Attempts: all, Last: err}
				}
				break // every candidate failed this round: start over
			}
			offer := a.Offer
			if len(all) > 0 { // the first try needs no announcement; the provider says where it launches
				l.Progress.Report(fmt.Sprintf("Trying %s (%s)", place(offer), resources(offer)))
			}
			info, err := l.Provision(ctx, a)
			if err == nil {
				return info, a, all, nil
			}
			if ctx.Err() != nil {
				return nil, Assignment{}, all, ctx.Err()
			}
			all = append(all, Attempt{Offer: offer, Err: err})
			s := blockFor(err, offer)
			if s.Level == cloud.LevelNone {
				// Not an infrastructure error: another place would fail the same way.
				return nil, Assignment{}, all, &Error{Attempts: all[:len(all)-1], Last: err}
			}
			l.Progress.Fail(fmt.Sprintf("Failed on %s: %s; blocking %s", place(offer), firstLine(err.Error()), s), err)
			blocked = append(blocked, s)
		}
		d := backoff(round)
		l.Progress.Report(fmt.Sprintf("Every candidate failed; retrying in %s (--retry-until-up)", d))
		if err := wait(ctx, d); err != nil {
			return nil, Assignment{}, all, err
		}
	}
}

// blockFor is what a failed attempt rules out: the error's scope, which must cover the place that failed. A
// provider that named another place (or none) gets its error's level applied to the failed offer instead, so
// the loop always makes progress.
func blockFor(err error, o cloud.Offer) cloud.Scope {
	s := cloud.ScopeOf(err)
	if s.Level == cloud.LevelNone || s.Covers(o.Cloud, o.Region, o.Zone) {
		return s
	}
	s = cloud.Scope{Level: s.Level, Cloud: o.Cloud, Region: o.Region, Zone: o.Zone}
	if s.Level >= cloud.LevelRegion {
		s.Zone = ""
	}
	if s.Level == cloud.LevelCloud {
		s.Region = ""
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func place(o cloud.Offer) string {
	parts := []string{o.Cloud}
	for _, p := range []string{o.Region, o.Zone} {
		if p != "" && p != o.Cloud {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

func resources(o cloud.Offer) string {
	var parts []string
	if o.InstanceType != "" {
		parts = append(parts, o.InstanceType)
	}
	for _, name := range slices.Sorted(maps.Keys(o.Accelerators)) {
		parts = append(parts, fmt.Sprintf("%s:%g", name, o.Accelerators[name]))
	}
	if o.Spot {
		parts = append(parts, "spot")
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("cpus=%g, mem=%g", o.CPUs, o.MemoryGB))
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
