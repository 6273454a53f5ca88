package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
)

// pollEvery is how often the provider looks at an agent that is starting. Waits are bounded by deadlines, never
// by counting polls.
const pollEvery = 20 * time.Millisecond

// stopGrace is how long an agent being replaced has after SIGTERM, and then after SIGKILL.
const stopGrace = 5 * time.Second

// healthTimeout bounds one health check of a running agent.
const healthTimeout = 2 * time.Second

// launchScript runs the agent in the background and prints its pid. bash forks it into its own process group
// (set -m; a background job of a shell without job control would start with SIGINT ignored, and so would its
// jobs) and exits at once: the agent is reparented to init, outlives the stix process, and never lingers as a
// zombie of it. $1 is the log file, the rest the agent's command line.
const launchScript = `set -m; log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!`

// launchAgent starts the agent of the agent directory dir, listening on ip, and returns its pid. Its jobs' home
// is home, and they do not see hide but home (the agent confines them; "" hides nothing).
func launchAgent(ctx context.Context, bin, dir, home, ip, hide string) (int, error) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return 0, fmt.Errorf("local nodes need bash to start agents: %w", err)
	}
	args := append([]string{"-c", launchScript, "stix-launch", filepath.Join(dir, nodeagent.LogFile), bin},
		nodeagent.ServeArgs(dir, net.JoinHostPort(ip, "0"))...)
	args = append(args, "--home", home)
	if hide != "" {
		args = append(args, "--confine-hide", hide)
	}
	cmd := exec.CommandContext(ctx, bash, args...)
	cmd.Dir = dir
	// A session of its own: no terminal signal (Ctrl-C in the stix CLI) reaches the agent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("launch %s: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("launch %s: no pid reported (%q)", bin, out)
	}
	return pid, nil
}

// waitAgent waits until the agent launched as the process (pid, ticks) in dir has written its address and
// answers its health check with secret, up to the provider's start timeout. On failure the error carries the end
// of the agent's log.
func (p *Provider) waitAgent(ctx context.Context, dir string, pid int, ticks uint64, secret string) (*nodeagent.Health, string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.startTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last error
	fail := func(msg string) (*nodeagent.Health, string, error) {
		log := filepath.Join(dir, nodeagent.LogFile)
		if last != nil {
			msg += " (last error: " + last.Error() + ")"
		}
		return nil, "", fmt.Errorf("%s; end of %s:\n%s", msg, log, nodeagent.TailLines(log, 15))
	}
	for {
		if addr := readTrimmed(filepath.Join(dir, nodeagent.AddrFile)); addr != "" {
			hctx, hcancel := context.WithTimeout(ctx, healthTimeout)
			h, err := nodeagent.CheckHealth(hctx, dialer.DialContext, addr, secret)
			hcancel()
			if err == nil {
				return h, addr, nil
			}
			if errors.Is(err, agent.ErrUnauthorized) {
				return nil, "", err // waiting will not fix a secret mismatch
			}
			last = err
		}
		if !proc.Alive(pid, ticks) {
			return fail(fmt.Sprintf("agent (pid %d) exited during start", pid))
		}
		select {
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, context.DeadlineExceeded) {
				return fail(fmt.Sprintf("agent (pid %d) did not answer within %s", pid, p.startTimeout))
			}
			return nil, "", ctx.Err()
		case <-tick.C:
		}
	}
}

var dialer net.Dialer

// readTrimmed returns a small file's content without surrounding space, "" when it cannot be read.
func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// nodeState is Query's answer for one node.
func (p *Provider) nodeState(ctx context.Context, dir, home string, rank int, secret string, stopped bool) cloud.NodeState {
	st := cloud.NodeState{Rank: rank}
	for _, d := range []string{dir, home} {
		if _, err := os.Stat(d); err != nil {
			st.Status, st.Reason = cloud.NodeMissing, "node directory "+d+" is gone"
			return st
		}
	}
	pid, serving := agent.RecordedAgentPID(dir)
	if !serving && selfStopMark(dir) != cloud.SelfStopNone {
		st.Status, st.Reason = cloud.NodeStopped, "stopped by autostop"
		return st
	}
	switch {
	case pid == 0:
		st.Status, st.Reason = cloud.NodeStopped, "agent not started"
		return st
	case !serving && stopped:
		st.Status, st.Reason = cloud.NodeStopped, "stopped"
		return st
	case !serving:
		st.Status, st.Reason = cloud.NodePending, fmt.Sprintf("agent process %d is gone: `stix start` restarts it", pid)
		return st
	}
	addr := readTrimmed(filepath.Join(dir, nodeagent.AddrFile))
	hctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	h, err := nodeagent.CheckHealth(hctx, dialer.DialContext, addr, secret)
	switch {
	case err != nil:
		st.Status, st.Reason = cloud.NodePending, fmt.Sprintf("agent process %d runs but does not answer: %v", pid, err)
	case h.PID != pid:
		st.Status, st.Reason = cloud.NodePending, fmt.Sprintf("agent at %s is pid %d, not the recorded %d", addr, h.PID, pid)
	default:
		st.Status = cloud.NodeRunning
	}
	return st
}

// stopNode ends the agent of dir and every job process it recorded, whether the agent is alive or not.
func stopNode(dir string) error { return agent.KillAll(dir) }
