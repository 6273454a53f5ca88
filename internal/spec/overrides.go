package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
)

// Overrides are task fields given on the command line (`--gpus`, `--cpus`, `-n`, ...). They win over the YAML,
// as in SkyPilot. A nil pointer leaves the field as the YAML has it; the string "none" resets it to unset. They
// are the wire type api.TaskOverrides, which carries them to the core.
type Overrides = api.TaskOverrides

// ApplyOverrides lays command-line values over the task, as SkyPilot applies them: resources overrides go to the
// top-level resources and to every any_of/ordered candidate. "none" resets a field to unset. Every value is
// checked like the YAML value it replaces; on any error nothing is changed and the returned ErrorList names the
// flag of each bad value.
func (t *Task) ApplyOverrides(o Overrides) error {
	var errs ErrorList
	fail := func(flag string, err error) {
		msg, hint := splitHint(err)
		errs = append(errs, &Error{Path: flag, Message: msg, Hint: hint})
	}
	var taskSet []func(*Task)
	var resSet []func(*Resources)
	onTask := func(f func(*Task)) { taskSet = append(taskSet, f) }
	onRes := func(f func(*Resources)) { resSet = append(resSet, f) }

	if o.Name != nil {
		name := strings.TrimSpace(*o.Name)
		switch {
		case isNone(name):
			onTask(func(t *Task) { t.Name = "" })
		case !validTaskName.MatchString(name):
			fail("--name", &hintError{msg: fmt.Sprintf("invalid task name %q", name), hint: "use letters, digits and single . _ or - between them"})
		default:
			onTask(func(t *Task) { t.Name = name })
		}
	}
	if o.Workdir != nil {
		dir := *o.Workdir
		switch {
		case isNone(dir):
			onTask(func(t *Task) { t.Workdir = nil })
		case strings.TrimSpace(dir) == "":
			fail("--workdir", fmt.Errorf("workdir is empty"))
		default:
			onTask(func(t *Task) { t.Workdir = &Workdir{Path: dir} })
		}
	}
	if set := applyGitOverrides(o, t.Workdir, fail); set != nil {
		onTask(set)
	}
	if o.NumNodes != nil {
		n := *o.NumNodes
		if n < 1 {
			fail("--num-nodes", fmt.Errorf("must be at least 1, found %d", n))
		} else if n > MaxNumNodes {
			fail("--num-nodes", tooManyNodes(int64(n)))
		} else {
			onTask(func(t *Task) { t.NumNodes = n })
		}
	}
	if o.Infra != nil {
		if isNone(*o.Infra) {
			onRes(func(r *Resources) { r.Infra = Infra{} })
		} else if inf, err := ParseInfra(*o.Infra); err != nil {
			fail("--infra", err)
		} else {
			onRes(func(r *Resources) { r.Infra = inf })
		}
	}
	if o.Accelerators != nil {
		if isNone(*o.Accelerators) {
			onRes(func(r *Resources) { r.Accelerators = nil })
		} else if acc, err := ParseAccelerators(*o.Accelerators); err != nil {
			fail("--gpus", err)
		} else {
			onRes(func(r *Resources) { r.Accelerators = &Accelerators{Kind: acc.Kind, Options: slices.Clone(acc.Options)} })
		}
	}
	if o.Cpus != nil {
		if isNone(*o.Cpus) {
			onRes(func(r *Resources) { r.CPUs = nil })
		} else if q, err := ParseQuantity(*o.Cpus); err != nil {
			fail("--cpus", err)
		} else {
			onRes(func(r *Resources) { q := q; r.CPUs = &q })
		}
	}
	if o.Memory != nil {
		if isNone(*o.Memory) {
			onRes(func(r *Resources) { r.Memory = nil })
		} else if q, err := ParseMemory(*o.Memory); err != nil {
			fail("--memory", err)
		} else {
			onRes(func(r *Resources) { q := q; r.Memory = &q })
		}
	}
	if o.InstanceType != nil {
		it := strings.TrimSpace(*o.InstanceType)
		if isNone(it) {
			it = ""
		}
		onRes(func(r *Resources) { r.InstanceType = it })
	}
	if o.UseSpot != nil {
		spot := *o.UseSpot
		onRes(func(r *Resources) { spot := spot; r.UseSpot = &spot })
	}
	if o.ImageID != nil {
		id := strings.TrimSpace(*o.ImageID)
		switch {
		case isNone(id):
			onRes(func(r *Resources) { r.ImageID = nil })
		case id == "" || id == "docker:":
			fail("--image-id", fmt.Errorf("image_id is empty; expected an image ID or docker:<image>"))
		default:
			onRes(func(r *Resources) { r.ImageID = &ImageID{ID: id} })
		}
	}
	if o.DiskSize != nil {
		if isNone(*o.DiskSize) {
			onRes(func(r *Resources) { r.DiskSizeGB = 0 })
		} else if n, err := ParseDiskSize(*o.DiskSize); err != nil {
			fail("--disk-size", err)
		} else {
			onRes(func(r *Resources) { r.DiskSizeGB = n })
		}
	}
	if o.DiskTier != nil {
		if isNone(*o.DiskTier) {
			onRes(func(r *Resources) { r.DiskTier = "" })
		} else if tier, err := validTier(*o.DiskTier, DiskTiers, "disk tier"); err != nil {
			fail("--disk-tier", err)
		} else {
			onRes(func(r *Resources) { r.DiskTier = tier })
		}
	}
	if o.NetworkTier != nil {
		if isNone(*o.NetworkTier) {
			onRes(func(r *Resources) { r.NetworkTier = "" })
		} else if tier, err := validTier(*o.NetworkTier, NetworkTiers, "network tier"); err != nil {
			fail("--network-tier", err)
		} else {
			onRes(func(r *Resources) { r.NetworkTier = tier })
		}
	}
	if o.Ports != nil {
		if len(o.Ports) == 1 && isNone(o.Ports[0]) {
			onRes(func(r *Resources) { r.Ports = nil })
		} else if ports, err := ParsePorts(o.Ports...); err != nil {
			fail("--ports", err)
		} else {
			onRes(func(r *Resources) { r.Ports = slices.Clone(ports) })
		}
	}
	if len(errs) > 0 {
		return errs
	}
	for _, f := range taskSet {
		f(t)
	}
	if t.Resources == nil {
		t.Resources = &Resources{}
	}
	for _, r := range slices.Concat([]*Resources{t.Resources}, t.Resources.AnyOf, t.Resources.Ordered) {
		for _, f := range resSet {
			f(r)
		}
	}
	return nil
}

func isNone(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "none") }
