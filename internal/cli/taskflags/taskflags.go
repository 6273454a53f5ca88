// Package taskflags holds the task flags that launch, exec, jobs launch, serve up and serve update share
// (--gpus, --cpus, --env, --infra, ...), and turns them into spec.Overrides plus envs and secrets.
package taskflags

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/spec"
)

// Task is what the task flags and the entrypoint of one command line say.
type Task struct {
	Entrypoint Entrypoint
	// Overrides hold only the flags the user gave; the others stay nil.
	Overrides spec.Overrides
	// Env is --env KEY=VAL and --env KEY (value from the local environment); nil when none. Later flags win.
	// Values from EnvFile are not in it: --env wins over the file, so merge the file first.
	Env map[string]string
	// Secrets is --secret, with the same forms as Env; nil when none.
	Secrets map[string]string
	// EnvFile is the --env-file path (a dotenv file), not yet read; empty when not given.
	EnvFile string
	// Config is each --config value: a config file path or key=value pairs, in order; nil when none.
	Config []string
	// GitToken and GitSSHKeyPath are the client's GIT_TOKEN and GIT_SSH_KEY_PATH: LoadOne makes them secrets of
	// a task whose workdir is a git repository (spec.Task.AddGitSecrets).
	GitToken, GitSSHKeyPath string
}

// DiskTiers and NetworkTiers are the values --disk-tier and --network-tier accept, as SkyPilot's (plus "none",
// which resets the YAML's value).
var (
	DiskTiers    = []string{"low", "medium", "high", "ultra", "best", "none"}
	NetworkTiers = []string{"standard", "best", "none"}
)

// Flags are the task flags registered on one command; Resolve reads them after parsing.
type Flags struct {
	withName, withConfig, withGit bool

	name, workdir, infra        string
	cloud, region, zone         string
	gpus, cpus, memory          string
	instanceType, imageID       string
	diskSize, diskTier, netTier string
	numNodes                    int
	useSpot                     bool
	ports, env, secrets, config []string
	envFile                     string
	gitURL, gitRef              string
}

// Option changes what Add registers.
type Option func(*Flags)

// WithName also registers -n/--name (task name). serve up and serve update leave it out: there -n is the service.
func WithName() Option { return func(f *Flags) { f.withName = true } }

// WithGit also registers --git-url and --git-ref: a git repository, and its branch, tag or commit, as the
// workdir (SkyPilot's launch, exec, jobs launch and serve up take them).
func WithGit() Option { return func(f *Flags) { f.withGit = true } }

// WithConfig says the command applies --config. Without it --config still parses but is refused as not built yet
// (cli.MarkUnbuilt), never silently dropped.
func WithConfig() Option { return func(f *Flags) { f.withConfig = true } }

// Add registers the task flags on cmd.
func Add(cmd *cobra.Command, opts ...Option) *Flags {
	f := &Flags{}
	for _, o := range opts {
		o(f)
	}
	fs := cmd.Flags()
	if f.withName {
		fs.StringVarP(&f.name, "name", "n", "", `Task name; overrides "name" in the YAML`)
	}
	fs.StringVar(&f.workdir, "workdir", "", `Local directory synced to the nodes, where setup and run execute; overrides "workdir"`)
	if f.withGit {
		fs.StringVar(&f.gitURL, "git-url", "", "Git repository cloned on the nodes as the workdir")
		fs.StringVar(&f.gitRef, "git-ref", "", "Git branch, tag or commit to check out (with --git-url, or a git workdir)")
	}
	fs.StringVar(&f.infra, "infra", "", "Where to run, an `INFRA`: cloud, cloud/region, cloud/region/zone, k8s/context or ssh/pool (e.g. aws/us-east-1, local)")
	fs.StringVar(&f.cloud, "cloud", "", `Deprecated: use --infra. Cloud to use; "none" resets`)
	fs.StringVar(&f.region, "region", "", `Deprecated: use --infra. Region to use; "none" resets`)
	fs.StringVar(&f.zone, "zone", "", `Deprecated: use --infra. Zone to use; "none" resets`)
	for _, h := range []string{"cloud", "region", "zone"} {
		_ = fs.MarkHidden(h)
	}
	fs.IntVar(&f.numNodes, "num-nodes", 0, "Number of nodes to run the task on, `N`; overrides \"num_nodes\"")
	fs.StringVar(&f.cpus, "cpus", "", "vCPUs per node: `N` exactly, or N+ for at least N")
	fs.StringVar(&f.memory, "memory", "", "Memory per node: `GB` exactly, GB+ for at least, or Nx for N GB per vCPU")
	fs.StringVar(&f.diskSize, "disk-size", "", "OS disk size in `GB`")
	cli.AddChoice(fs, &f.diskTier, "disk-tier", "", "", DiskTiers, "OS disk tier")
	cli.AddChoice(fs, &f.netTier, "network-tier", "", "", NetworkTiers, "Network tier")
	cli.AddNegatableBool(fs, &f.useSpot, "use-spot", false, "Use spot instances", "Use on-demand instances")
	fs.StringVar(&f.imageID, "image-id", "", `Custom image for the nodes, e.g. an AMI or docker:<image>; "none" resets`)
	fs.StringVar(&f.envFile, "env-file", "", "A dotenv `FILE` of environment variables for the task; --env wins over it")
	fs.StringArrayVar(&f.env, "env", nil, "Environment variable for the task, `KEY[=VAL]`; a bare KEY takes its value from your environment; repeatable")
	fs.StringArrayVar(&f.secrets, "secret", nil, "Secret variable for the task, `KEY[=VAL]` as --env; stix never shows its value, but the job's own output is not filtered; repeatable")
	fs.StringVar(&f.gpus, "gpus", "", "Accelerators per node, `ACC[:N]`: A100:8, V100 (one), V100:0.5; none resets")
	fs.StringVarP(&f.instanceType, "instance-type", "t", "", `Instance type; "none" resets`)
	fs.StringArrayVar(&f.ports, "ports", nil, "`PORT` or range to open, e.g. 8080 or 8000-8010; repeatable; replaces the YAML's ports")
	fs.StringArrayVar(&f.config, "config", nil, "A config file, or `KEY=VAL` pairs (nested.key=val), applied over the config; repeatable")
	if !f.withConfig {
		cli.MarkUnbuilt(fs, "config")
	}
	return f
}

// Resolve reads the parsed flags of cmd and the entrypoint arguments into a Task. getenv supplies --env KEY and
// --secret KEY values; warnings about deprecated flags go to s.ErrOut. Errors are usage errors (exit 2).
func (f *Flags) Resolve(cmd *cobra.Command, s *cli.IOStreams, getenv func(string) string, entrypoint []string) (Task, error) {
	fs := cmd.Flags()
	var t Task
	var err error
	if t.Entrypoint, err = ParseEntrypoint(entrypoint); err != nil {
		return Task{}, &cli.FlagError{Err: err}
	}
	o := &t.Overrides
	str := func(name string, v string) *string {
		if !fs.Changed(name) {
			return nil
		}
		return &v
	}
	if f.withName {
		o.Name = str("name", f.name)
	}
	o.Workdir = str("workdir", f.workdir)
	if f.withGit {
		o.GitURL, o.GitRef = str("git-url", f.gitURL), str("git-ref", f.gitRef)
		if o.GitURL != nil && o.Workdir != nil {
			return Task{}, cli.FlagErrorf("cannot use --git-url together with --workdir")
		}
	}
	o.Accelerators = str("gpus", f.gpus)
	o.Cpus = str("cpus", f.cpus)
	o.Memory = str("memory", f.memory)
	o.InstanceType = str("instance-type", f.instanceType)
	o.ImageID = str("image-id", f.imageID)
	o.DiskSize = str("disk-size", f.diskSize)
	o.DiskTier = str("disk-tier", f.diskTier)
	o.NetworkTier = str("network-tier", f.netTier)
	if o.Infra, err = f.infraOverride(fs.Changed, s); err != nil {
		return Task{}, err
	}
	if fs.Changed("num-nodes") {
		if f.numNodes < 1 {
			return Task{}, cli.FlagErrorf("--num-nodes must be at least 1, got %d", f.numNodes)
		}
		n := f.numNodes
		o.NumNodes = &n
	}
	if cli.ChangedPair(fs, "use-spot") {
		v := f.useSpot
		o.UseSpot = &v
	}
	if len(f.ports) > 0 {
		for _, p := range f.ports {
			if strings.EqualFold(p, "none") && len(f.ports) > 1 {
				return Task{}, cli.FlagErrorf(`--ports none resets the ports and cannot be combined with other ports`)
			}
		}
		o.Ports = append([]string(nil), f.ports...)
	}
	if t.Env, err = parseVars("--env", f.env, getenv); err != nil {
		return Task{}, err
	}
	if t.Secrets, err = parseVars("--secret", f.secrets, getenv); err != nil {
		return Task{}, err
	}
	t.EnvFile = f.envFile
	t.GitToken, t.GitSSHKeyPath = getenv("GIT_TOKEN"), getenv("GIT_SSH_KEY_PATH")
	if len(f.config) > 0 {
		t.Config = append([]string(nil), f.config...)
	}
	return t, nil
}

// infraOverride merges --infra with the deprecated --cloud/--region/--zone, which SkyPilot still accepts.
// An unset part of the old form becomes "*" (any), and trailing wildcards are dropped: --cloud aws → "aws",
// --region us-east-1 → "*/us-east-1".
func (f *Flags) infraOverride(changed func(string) bool, s *cli.IOStreams) (*string, error) {
	old := changed("cloud") || changed("region") || changed("zone")
	if !old {
		if !changed("infra") {
			return nil, nil
		}
		v := f.infra
		return &v, nil
	}
	if changed("infra") {
		return nil, cli.FlagErrorf("cannot use --infra together with --cloud, --region or --zone: use --infra alone")
	}
	fmt.Fprintln(s.ErrOut, s.Paint(cli.Yellow, "The --cloud, --region and --zone flags are deprecated: use --infra instead."))
	parts := []string{"*", "*", "*"}
	for i, v := range []string{f.cloud, f.region, f.zone} {
		if v != "" {
			parts[i] = v
		}
	}
	for len(parts) > 1 && parts[len(parts)-1] == "*" {
		parts = parts[:len(parts)-1]
	}
	v := strings.Join(parts, "/")
	return &v, nil
}

// parseVars reads KEY=VAL and KEY forms. A bare KEY takes its value from getenv and must be set there: an empty
// value counts as unset, since getenv cannot tell the two apart.
func parseVars(flag string, vals []string, getenv func(string) string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(vals))
	for _, kv := range vals {
		key, val, hasVal := strings.Cut(kv, "=")
		if key == "" {
			return nil, cli.FlagErrorf("invalid %s %q: must be KEY=VAL or KEY", flag, kv)
		}
		if !spec.ValidEnvName(key) {
			return nil, cli.FlagErrorf("invalid %s name %q: %s", flag, key, spec.EnvNameRule)
		}
		if !hasVal {
			if getenv != nil {
				val = getenv(key)
			}
			if val == "" {
				return nil, cli.FlagErrorf("%s %s: %s is not set in your environment; pass %s %s=VALUE", flag, key, key, flag, key)
			}
		}
		out[key] = val
	}
	return out, nil
}
