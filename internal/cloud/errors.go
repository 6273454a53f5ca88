package cloud

import (
	"errors"
	"fmt"
	"strings"
)

// Level is how much infrastructure an error rules out for the failover loop.
type Level int

// Levels, narrowest first.
const (
	// LevelNone: the error is not about a place (a bug, a cancelled context, a cluster that is gone): the
	// failover loop must not try elsewhere because of it.
	LevelNone Level = iota
	LevelZone
	LevelRegion
	LevelCloud
)

func (l Level) String() string {
	switch l {
	case LevelZone:
		return "zone"
	case LevelRegion:
		return "region"
	case LevelCloud:
		return "cloud"
	default:
		return "none"
	}
}

// Scope is the infrastructure an error rules out: a zone, a region or a whole cloud.
type Scope struct {
	Level  Level
	Cloud  string
	Region string
	Zone   string
}

// String writes the scope for messages: "aws/us-east-1/us-east-1a", "gcp", "none".
func (s Scope) String() string {
	switch s.Level {
	case LevelZone:
		return s.Cloud + "/" + s.Region + "/" + s.Zone
	case LevelRegion:
		return s.Cloud + "/" + s.Region
	case LevelCloud:
		return s.Cloud
	default:
		return "none"
	}
}

// Covers reports whether the place (cloud, region, zone) lies inside the scope: what a failover loop asks of
// each candidate offer after an error. LevelNone covers nothing.
func (s Scope) Covers(cloud, region, zone string) bool {
	if s.Level == LevelNone || !strings.EqualFold(s.Cloud, cloud) {
		return false
	}
	switch s.Level {
	case LevelCloud:
		return true
	case LevelRegion:
		return s.Region == region
	default:
		return s.Region == region && s.Zone == zone
	}
}

// scope builds a scope at level, widened when the place is not known that precisely: a capacity error from a
// cloud without zones rules out its region.
func scope(level Level, cloud, region, zone string) Scope {
	if level == LevelZone && zone == "" {
		level = LevelRegion
	}
	if level == LevelRegion && region == "" {
		level = LevelCloud
	}
	s := Scope{Level: level, Cloud: cloud}
	if level <= LevelRegion {
		s.Region = region
	}
	if level == LevelZone {
		s.Zone = zone
	}
	return s
}

// scoped is implemented by every error of this package that rules out infrastructure.
type scoped interface {
	error
	Scope() Scope
}

// ScopeOf returns the infrastructure that err rules out, from the first typed error in its chain; errors of no
// type here give LevelNone. The failover loop decides from this alone, never from message text.
func ScopeOf(err error) Scope {
	var s scoped
	if errors.As(err, &s) {
		return s.Scope()
	}
	return Scope{}
}

// Place says where an error happened. Providers fill what they know.
type Place struct {
	Cloud  string
	Region string
	Zone   string
}

func (p Place) String() string {
	var parts []string
	for _, s := range []string{p.Cloud, p.Region, p.Zone} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "/")
}

// describe joins "what at place: reason: cause" for Error methods.
func describe(what string, p Place, reason string, cause error) string {
	s := what
	if where := p.String(); where != "" {
		s += " in " + where
	}
	if reason != "" {
		s += ": " + reason
	}
	if cause != nil {
		s += ": " + cause.Error()
	}
	return s
}

// CapacityError: the zone has no capacity for the request right now (stockout, no spot capacity). It rules out
// the zone.
type CapacityError struct {
	Place
	Reason string
	Err    error
}

func (e *CapacityError) Error() string { return describe("no capacity", e.Place, e.Reason, e.Err) }
func (e *CapacityError) Unwrap() error { return e.Err }

// Scope rules out the zone (the region when the cloud has no zones).
func (e *CapacityError) Scope() Scope { return scope(LevelZone, e.Cloud, e.Region, e.Zone) }

// QuotaError: the account's quota in the region does not allow the request. It rules out the region.
type QuotaError struct {
	Place
	Reason string
	Err    error
}

func (e *QuotaError) Error() string { return describe("quota exceeded", e.Place, e.Reason, e.Err) }
func (e *QuotaError) Unwrap() error { return e.Err }

// Scope rules out the region.
func (e *QuotaError) Scope() Scope { return scope(LevelRegion, e.Cloud, e.Region, "") }

// AuthError: the credentials are missing, expired or lack a permission. It rules out the cloud.
type AuthError struct {
	Place
	Reason string
	Err    error
}

func (e *AuthError) Error() string { return describe("not authorized", e.Place, e.Reason, e.Err) }
func (e *AuthError) Unwrap() error { return e.Err }

// Scope rules out the cloud.
func (e *AuthError) Scope() Scope { return scope(LevelCloud, e.Cloud, "", "") }

// InvalidConfigError: the request cannot work on this cloud as configured (an unknown image, a bad network
// setting). It rules out the cloud; Place may say where it was seen.
type InvalidConfigError struct {
	Place
	Reason string
	Err    error
}

func (e *InvalidConfigError) Error() string {
	return describe("invalid configuration", e.Place, e.Reason, e.Err)
}
func (e *InvalidConfigError) Unwrap() error { return e.Err }

// Scope rules out the cloud.
func (e *InvalidConfigError) Scope() Scope { return scope(LevelCloud, e.Cloud, "", "") }

// InfeasibleError: nothing this cloud offers fits the request (Feasible's answer). It rules out the cloud.
type InfeasibleError struct {
	Cloud string
	// Reasons are short, user-facing sentences, one per unmet requirement: "local infra has 2 CPUs; the task
	// asks for 4+". Error puts each on its own line.
	Reasons []string
}

func (e *InfeasibleError) Error() string {
	if len(e.Reasons) == 0 {
		return e.Cloud + ": no resources fit the request"
	}
	return strings.Join(e.Reasons, "\n")
}

// Scope rules out the cloud.
func (e *InfeasibleError) Scope() Scope { return scope(LevelCloud, e.Cloud, "", "") }

// PreemptedError: the provider took a node back (spot preemption, reclaimed node). It rules out the zone,
// which is where recovery looks elsewhere first.
type PreemptedError struct {
	Place
	Cluster string
	Rank    int
	Reason  string
}

func (e *PreemptedError) Error() string {
	return describe(fmt.Sprintf("node %d of cluster %s preempted", e.Rank, e.Cluster), e.Place, e.Reason, nil)
}

// Scope rules out the zone (the region when the cloud has no zones).
func (e *PreemptedError) Scope() Scope { return scope(LevelZone, e.Cloud, e.Region, e.Zone) }

// NotFoundError: the cluster (or a node of it) does not exist at the provider. It rules out nothing.
type NotFoundError struct {
	Place
	Cluster string
	Reason  string
}

func (e *NotFoundError) Error() string {
	return describe(fmt.Sprintf("cluster %s not found", e.Cluster), e.Place, e.Reason, nil)
}

// Scope is LevelNone: a missing cluster says nothing about capacity anywhere.
func (e *NotFoundError) Scope() Scope { return Scope{} }

// UnsupportedError: the provider cannot do the operation at all (stop on Kubernetes, spot on local). It rules
// out nothing; the caller tells the user.
type UnsupportedError struct {
	Cloud     string
	Operation string
	Hint      string
}

func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("%s does not support %s", e.Cloud, e.Operation)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// Scope is LevelNone.
func (e *UnsupportedError) Scope() Scope { return Scope{} }
