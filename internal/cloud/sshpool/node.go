package sshpool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/agent/fingerprint"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/transport"
	sshtransport "github.com/stix-run/stix/internal/transport/ssh"
)

// dial opens the SSH connection to h, recording host keys in knownHosts, and maps the transport's typed errors
// to the failover errors of package cloud, naming the host and the pool.
func (p *Provider) dial(ctx context.Context, pool string, h Host, knownHosts string) (*sshtransport.Transport, error) {
	cfg := transportConfig(h, knownHosts)
	cfg.ConnectTimeout = p.connectTimeout
	if d := config.FromContext(ctx).ProvisionSSHTimeout(); d > 0 { // the request's provision.ssh_timeout
		cfg.ConnectTimeout = d
	}
	tr, err := sshtransport.Dial(ctx, cfg)
	if err != nil {
		return nil, classify(pool, h, err)
	}
	return tr, nil
}

// transportConfig is how the transport reaches h.
func transportConfig(h Host, knownHosts string) sshtransport.Config {
	cfg := sshtransport.Config{Host: h.Address, Port: h.Port, User: h.User, IdentityFiles: h.IdentityFiles,
		UseAgent: os.Getenv("SSH_AUTH_SOCK") != "", KnownHostsFile: knownHosts}
	if h.ProxyJump != "" {
		jump := parseJump(h.ProxyJump, h)
		cfg.ProxyJump = &jump
	}
	return cfg
}

// parseJump reads ProxyJump's "[user@]host[:port]" (the first hop when several are given); the jump host uses
// the target's user and keys unless it names its own user.
func parseJump(s string, target Host) sshtransport.Config {
	first, _, _ := strings.Cut(s, ",")
	cfg := sshtransport.Config{User: target.User, IdentityFiles: target.IdentityFiles, UseAgent: os.Getenv("SSH_AUTH_SOCK") != ""}
	if u, rest, ok := strings.Cut(first, "@"); ok {
		cfg.User, first = u, rest
	}
	cfg.Host = first
	if host, port, err := net.SplitHostPort(first); err == nil {
		if n, err := strconv.Atoi(port); err == nil {
			cfg.Host, cfg.Port = host, n
		}
	}
	return cfg
}

// classify maps an SSH failure on host h of pool to the failover errors: an unreachable host is capacity the
// pool lacks now (another pool or cloud may have it), refused keys are the user's credentials, a changed host
// key is a configuration stix must not work around.
func classify(pool string, h Host, err error) error {
	place := cloud.Place{Cloud: Name, Region: pool}
	where := fmt.Sprintf("host %s (%s)", h.Name, h.key())
	var unreachable *sshtransport.UnreachableError
	var auth *sshtransport.AuthError
	var changed *sshtransport.HostKeyChangedError
	switch {
	case errors.As(err, &unreachable):
		return &cloud.CapacityError{Place: place, Reason: where + " is unreachable", Err: err}
	case errors.As(err, &auth):
		return &cloud.AuthError{Place: place, Reason: where + " refused authentication", Err: err}
	case errors.As(err, &changed):
		return &cloud.InvalidConfigError{Place: place, Reason: where + " presented another host key", Err: err}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// output runs cmd on the node and returns its stdout; a non-zero exit is an error with its stderr.
func output(ctx context.Context, tr transport.Transport, cmd string) (string, error) {
	var stdout, stderr bytes.Buffer
	code, err := tr.Run(ctx, cmd, transport.RunOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("`%s` exited %d: %s", cmd, code, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// detectScript prints the CPU count, /proc/meminfo's MemTotal line, and, after a "gpus" marker when the node has
// nvidia-smi, one line per GPU.
const detectScript = `nproc; grep '^MemTotal:' /proc/meminfo; if command -v nvidia-smi >/dev/null 2>&1; then echo gpus; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; fi`

// detect measures what the node offers, as the agent's fingerprint would (GPU names normalised).
func detect(ctx context.Context, tr transport.Transport) (cloud.Resources, error) {
	out, err := output(ctx, tr, detectScript)
	if err != nil {
		return cloud.Resources{}, fmt.Errorf("measure resources: %w", err)
	}
	return parseDetect(out)
}

// parseDetect reads detectScript's output.
func parseDetect(out string) (cloud.Resources, error) {
	var r cloud.Resources
	before, gpus, hasGPUs := strings.Cut(out, "gpus\n")
	lines := strings.Split(strings.TrimSpace(before), "\n")
	if len(lines) < 2 {
		return r, fmt.Errorf("measure resources: unexpected output %q", out)
	}
	cpus, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || cpus <= 0 {
		return r, fmt.Errorf("measure resources: nproc printed %q", lines[0])
	}
	r.CPUs = float64(cpus)
	f := strings.Fields(lines[1])
	kb, err := 0.0, error(nil)
	if len(f) >= 2 {
		kb, err = strconv.ParseFloat(f[1], 64)
	}
	if len(f) < 2 || err != nil {
		return r, fmt.Errorf("measure resources: MemTotal line %q", lines[1])
	}
	r.MemoryGB = math.Round(kb*1024/(1<<30)*10) / 10
	if hasGPUs {
		list, err := fingerprint.ParseNvidiaSMI([]byte(gpus))
		if err != nil {
			return r, fmt.Errorf("measure resources: %w", err)
		}
		for name, n := range fingerprint.Count(list) {
			if r.Accelerators == nil {
				r.Accelerators = map[string]float64{}
			}
			r.Accelerators[name] = float64(n)
		}
	}
	return r, nil
}

// uploadAgent puts this agent version on the node unless it is there.
func uploadAgent(ctx context.Context, tr *sshtransport.Transport, local string) error {
	remote, err := nodeagent.RemoteBinary(local, "")
	if err != nil {
		return err
	}
	out, err := output(ctx, tr, "if [ -x "+shellWord(tr.Resolve(remote))+" ]; then echo have; fi")
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "have" {
		return nil
	}
	if err := tr.Upload(ctx, local, remote, 0o755); err != nil {
		return fmt.Errorf("upload %s: %w", nodeagent.BinaryName, err)
	}
	return nil
}

// killAllScript ends the agent of each directory given and every job process it recorded, with the agent
// binary given first, or any version on the node when that one is missing (an older stix deployed it).
const killAllScript = `bin=$1; shift
if [ ! -x "$bin" ]; then for b in "$HOME"/.stix/bin/stix-agent-*; do [ -x "$b" ] && bin=$b; done; fi
for d in "$@"; do
  [ -d "$d" ] || continue
  [ -x "$bin" ] || { echo "no stix-agent on the node to stop the agent of $d" >&2; exit 1; }
  "$bin" killall --dir "$d" || exit 1
done`

// killAll stops the agents (and their jobs) of the given absolute directories on the node.
func killAll(ctx context.Context, tr *sshtransport.Transport, bin string, dirs ...string) error {
	args := []string{shellWord(tr.Resolve(bin))}
	for _, d := range dirs {
		args = append(args, shellWord(d))
	}
	_, err := output(ctx, tr, "bash -c "+shellWord(killAllScript)+" stix-killall "+strings.Join(args, " "))
	if err != nil {
		return fmt.Errorf("stop agents: %w", err)
	}
	return nil
}

// shellWord quotes s as one word for a POSIX shell.
func shellWord(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
