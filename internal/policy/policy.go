// Package policy applies an admin policy to a user's request before it runs, as SkyPilot's admin policies do:
// the policy sees the task (as its task-file mapping), the merged config and the request's options, and either
// answers with the task and config to run instead, or rejects the request with a message for the user.
//
// `admin_policy:` in the config names the policy: an http(s) URL is a RESTful policy server that speaks
// SkyPilot's protocol (rest.go); `stix:NAME[,NAME...]` names stix's built-in policies (builtin.go), whose
// parameters are under `stix_admin_policy:`. SkyPilot's other form, a Python class, cannot run in stix and is
// an error that lists the built-ins.
package policy

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/stix-run/stix/internal/config"
)

// Request names, as SkyPilot's (AdminPolicyRequestName): a launch (a dry run is a launch with DryRun set) and
// an exec.
const (
	RequestLaunch = "launch"
	RequestExec   = "exec"
)

// Request is what a policy sees.
type Request struct {
	// Task is the task as its task-file mapping (spec.Task.YAMLConfig): secrets show redacted values.
	Task map[string]any
	// Config is the request's merged configuration (config.Config.ToMap).
	Config map[string]any
	// Name is RequestLaunch or RequestExec.
	Name    string
	Options *Options
	// AtClientSide is false: stix's core applies the policy, as SkyPilot's API server does.
	AtClientSide bool
	// User made the request; nil when unknown.
	User *User
}

// Options are SkyPilot's RequestOptions.
type Options struct {
	ClusterName           *string `json:"cluster_name"`
	IdleMinutesToAutostop *int    `json:"idle_minutes_to_autostop"`
	Down                  bool    `json:"down"`
	DryRun                bool    `json:"dryrun"`
}

// User is SkyPilot's user record as a policy sees it.
type User struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// Result is the task and config to run instead, as YAML text (read back with positions in it); either may be
// returned unchanged.
type Result struct {
	Task   []byte
	Config []byte
}

// Policy validates and mutates a request.
type Policy interface {
	// Name is how messages name the policy: its URL, or stix:NAME.
	Name() string
	// Apply returns the request to run, a *Rejected error, or another error when the policy could not decide.
	Apply(ctx context.Context, r Request) (Result, error)
}

// Rejected is a policy's refusal; Message is the policy's own words for the user.
type Rejected struct {
	Policy  string
	Message string
}

func (e *Rejected) Error() string {
	return fmt.Sprintf("request rejected by admin policy %s: %s", e.Policy, e.Message)
}

// BuiltinPrefix starts the admin_policy value that names stix's built-in policies.
const BuiltinPrefix = "stix:"

// FromConfig returns the policy that cfg's admin_policy names, or nil when none is set. An admin_policy that
// names no policy stix can run is an error at its position.
func FromConfig(cfg *config.Config) (Policy, error) {
	v, ok := cfg.Get("admin_policy")
	s, _ := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return nil, nil
	}
	s = strings.TrimSpace(s)
	at := ""
	if o, ok := cfg.Origin("admin_policy"); ok {
		at = o.String() + ": "
	}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return NewREST(s), nil
	}
	names, ok := strings.CutPrefix(s, BuiltinPrefix)
	if !ok {
		return nil, fmt.Errorf("%sadmin_policy: %q is neither an http(s) URL nor one of stix's built-in policies "+
			"(stix cannot load SkyPilot's Python policy classes); use a RESTful policy server's URL, or %s",
			at, s, builtinList())
	}
	p, err := builtins(cfg, names)
	if err != nil {
		return nil, fmt.Errorf("%sadmin_policy: %w", at, err)
	}
	return p, nil
}
