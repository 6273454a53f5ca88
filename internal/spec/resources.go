package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DefaultDiskSizeGB is the OS disk size when a task does not give disk_size, as in SkyPilot.
const DefaultDiskSizeGB = 256

// DiskTiers and NetworkTiers are the accepted tier names.
var (
	DiskTiers    = []string{"low", "medium", "high", "ultra", "best"}
	NetworkTiers = []string{"standard", "best"}
)

// Resources is what one node of a task needs. A task's top-level Resources may hold candidates in AnyOf (any of
// them) or Ordered (in order of preference), each already merged over the top-level fields; Candidates expands
// everything into concrete alternatives for the optimizer.
type Resources struct {
	Infra                  Infra             `json:"infra,omitzero"`
	Accelerators           *Accelerators     `json:"accelerators,omitempty"`
	AcceleratorArgs        map[string]any    `json:"accelerator_args,omitempty"`
	CPUs                   *Quantity         `json:"cpus,omitempty"`
	Memory                 *Quantity         `json:"memory,omitempty"`
	InstanceType           string            `json:"instance_type,omitempty"`
	UseSpot                *bool             `json:"use_spot,omitempty"`  // nil: not said, which means on-demand
	DiskSizeGB             int               `json:"disk_size,omitempty"` // 0: DefaultDiskSizeGB
	DiskTier               string            `json:"disk_tier,omitempty"`
	NetworkTier            string            `json:"network_tier,omitempty"`
	Ports                  Ports             `json:"ports,omitempty"`
	ImageID                *ImageID          `json:"image_id,omitempty"`
	Labels                 map[string]string `json:"labels,omitempty"`
	JobRecovery            *JobRecovery      `json:"job_recovery,omitempty"`
	Autostop               *AutostopConfig   `json:"autostop,omitempty"`
	Priority               *int              `json:"priority,omitempty"`
	Volumes                []map[string]any  `json:"volumes,omitempty"`
	ClusterConfigOverrides map[string]any    `json:"_cluster_config_overrides,omitempty"`

	AnyOf   []*Resources `json:"any_of,omitempty"`
	Ordered []*Resources `json:"ordered,omitempty"`
}

// Spot reports whether spot instances were asked for.
func (r *Resources) Spot() bool { return r.UseSpot != nil && *r.UseSpot }

// DiskSize is the OS disk size in GiB, the default when not given.
func (r *Resources) DiskSize() int {
	if r.DiskSizeGB == 0 {
		return DefaultDiskSizeGB
	}
	return r.DiskSizeGB
}

// Clone returns a deep copy (maps and nested candidates included).
func (r *Resources) Clone() *Resources {
	if r == nil {
		return nil
	}
	c := *r
	if r.Accelerators != nil {
		a := *r.Accelerators
		a.Options = slices.Clone(r.Accelerators.Options)
		c.Accelerators = &a
	}
	c.AcceleratorArgs = maps.Clone(r.AcceleratorArgs)
	c.Ports = slices.Clone(r.Ports)
	if r.ImageID != nil {
		img := *r.ImageID
		img.ByRegion = maps.Clone(r.ImageID.ByRegion)
		c.ImageID = &img
	}
	c.Labels = maps.Clone(r.Labels)
	if r.JobRecovery != nil {
		jr := *r.JobRecovery
		jr.RecoverOnExitCodes = slices.Clone(r.JobRecovery.RecoverOnExitCodes)
		c.JobRecovery = &jr
	}
	c.Volumes = slices.Clone(r.Volumes)
	c.ClusterConfigOverrides = maps.Clone(r.ClusterConfigOverrides)
	c.AnyOf = cloneAll(r.AnyOf)
	c.Ordered = cloneAll(r.Ordered)
	return &c
}

func cloneAll(rs []*Resources) []*Resources {
	if rs == nil {
		return nil
	}
	out := make([]*Resources, len(rs))
	for i, r := range rs {
		out[i] = r.Clone()
	}
	return out
}

// Candidates expands the resources into concrete alternatives, each with at most one accelerator option and no
// nested candidates. ordered reports whether they are in order of preference (ordered:, or an accelerators list)
// rather than "any of them, cheapest first".
func (r *Resources) Candidates() (cands []*Resources, ordered bool) {
	base := []*Resources{r}
	switch {
	case len(r.AnyOf) > 0:
		base = r.AnyOf
	case len(r.Ordered) > 0:
		base, ordered = r.Ordered, true
	}
	for _, b := range base {
		c := b.Clone()
		c.AnyOf, c.Ordered = nil, nil
		if c.Accelerators == nil || len(c.Accelerators.Options) <= 1 {
			cands = append(cands, c)
			continue
		}
		if c.Accelerators.Kind == Ordered && len(base) == 1 {
			ordered = true
		}
		for _, opt := range c.Accelerators.Options {
			one := c.Clone()
			one.Accelerators = &Accelerators{Kind: AnyOf, Options: []Accelerator{opt}}
			cands = append(cands, one)
		}
	}
	return cands, ordered
}

// ImageID is the machine image: one ID (or "docker:<image>") for every region, or one per region.
type ImageID struct {
	ID       string            `json:"id,omitempty"`
	ByRegion map[string]string `json:"by_region,omitempty"`
}

// Docker returns the container image when the image is "docker:<image>".
func (i *ImageID) Docker() (string, bool) {
	if i == nil {
		return "", false
	}
	img, ok := strings.CutPrefix(i.ID, "docker:")
	return img, ok
}

// JobRecovery is how a managed job recovers from preemption and failures.
type JobRecovery struct {
	Strategy            string `json:"strategy,omitempty"` // upper case, one of RecoveryStrategies; "" = default
	MaxRestartsOnErrors int    `json:"max_restarts_on_errors,omitempty"`
	RecoverOnExitCodes  []int  `json:"recover_on_exit_codes,omitempty"`
}

// RecoveryStrategies are the accepted job_recovery strategies (SkyPilot's; EAGER_NEXT_REGION is its default).
var RecoveryStrategies = []string{"EAGER_NEXT_REGION", "FAILOVER"}

// AutostopConfig stops (or tears down) a cluster after it has been idle for a while.
type AutostopConfig struct {
	Enabled     bool   `json:"enabled"`
	IdleMinutes int    `json:"idle_minutes"`
	Down        bool   `json:"down,omitempty"`
	WaitFor     string `json:"wait_for,omitempty"` // one of AutostopWaitFor; "" = default (jobs_and_ssh)
}

// AutostopWaitFor are the accepted autostop wait_for modes.
var AutostopWaitFor = []string{"jobs_and_ssh", "jobs", "none"}

// validTier checks a tier name case-insensitively and returns it in lower case.
func validTier(s string, tiers []string, what string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if slices.Contains(tiers, t) {
		return t, nil
	}
	return "", &hintError{
		msg:  fmt.Sprintf("unknown %s %q; expected one of %s", what, s, strings.Join(tiers, ", ")),
		hint: didYouMean(t, tiers),
	}
}
