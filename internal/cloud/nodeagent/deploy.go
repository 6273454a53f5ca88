package nodeagent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/transport"
)

// DefaultBinDir is where Deploy keeps agent binaries on a node, one file per version.
const DefaultBinDir = "~/.stix/bin"

// DefaultStartTimeout bounds how long Deploy waits for a started agent to answer.
const DefaultStartTimeout = 30 * time.Second

// DeployOptions say what agent Deploy puts on a node and where.
type DeployOptions struct {
	// Binary is the local stix-agent executable to copy (Binary()).
	Binary string
	// Dir is the agent's directory on the node (a remote path: "~/x" is in the node's home).
	Dir string
	// Listen is the host:port the agent listens on, as the node sees it; port 0 lets the agent choose.
	// Empty means 127.0.0.1:0: the agent is reached through the transport's Dial.
	Listen string
	// Secret is the cluster's secret (NewSecret()).
	Secret string
	// Home is the jobs' $HOME on the node (the agent's --home; a remote path, "~" for the login user's home);
	// empty means Dir, as on local nodes.
	Home string
	// BinDir is where binaries go on the node; empty means DefaultBinDir.
	BinDir string
	// StartTimeout bounds the wait for the agent to answer; 0 means DefaultStartTimeout.
	StartTimeout time.Duration
	// CA, when set, makes the agent serve TLS: Deploy writes the CA certificate and a certificate and key it
	// issues for Listen's host (and loopback) into Dir, and checks the agent's health over TLS trusting only CA.
	// Every provider whose agent traffic crosses a network sets it.
	CA *agenttls.CA
}

// Deploy makes sure a healthy agent serves opts.Dir on the node tr reaches, and returns its address as the node
// sees it (dial it with tr.Dial). An agent already healthy there with the same secret is left alone. Otherwise
// the binary is uploaded unless the node has this version (its file name carries the binary's hash), the
// secret is written (0600), and the agent is started detached, with its output in Dir/agent.log.
func Deploy(ctx context.Context, tr transport.Transport, opts DeployOptions) (string, error) {
	if opts.Binary == "" || opts.Dir == "" || opts.Secret == "" {
		return "", errors.New("deploy agent: Binary, Dir and Secret are required")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	d := &deployer{tr: tr, opts: opts}
	if opts.CA != nil {
		cfg, err := agenttls.ClientConfig(opts.CA.CertPEM)
		if err != nil {
			return "", fmt.Errorf("deploy agent in %s: %w", opts.Dir, err)
		}
		d.client = append(d.client, agent.WithTLS(cfg))
	}
	addr, err := d.deploy(ctx)
	if err != nil {
		return "", fmt.Errorf("deploy agent in %s: %w", opts.Dir, err)
	}
	return addr, nil
}

type deployer struct {
	tr     transport.Transport
	opts   DeployOptions
	client []agent.ClientOption // how the health checks reach the agent
}

// RemoteBinary is where Deploy keeps the version of the local agent binary on a node: binDir (DefaultBinDir
// when empty)/stix-agent-<sha256[:12]>. Providers run that file for node-side commands (killall).
func RemoteBinary(local, binDir string) (string, error) {
	sum, err := fileHash(local)
	if err != nil {
		return "", err
	}
	if binDir == "" {
		binDir = DefaultBinDir
	}
	return path.Join(binDir, BinaryName+"-"+sum[:12]), nil
}

func (d *deployer) deploy(ctx context.Context) (string, error) {
	remoteBin, err := RemoteBinary(d.opts.Binary, d.opts.BinDir)
	if err != nil {
		return "", err
	}
	addr, haveBin, err := d.probe(ctx, remoteBin)
	if err != nil {
		return "", err
	}
	if addr != "" {
		_, err := d.health(ctx, addr)
		switch {
		case err == nil:
			return addr, nil
		case errors.Is(err, agent.ErrUnauthorized):
			return "", fmt.Errorf("an agent with another secret serves %s: %w", d.opts.Dir, err)
		}
		// A stale address (the agent died): start a new agent.
	}
	if !haveBin {
		if err := d.tr.Upload(ctx, d.opts.Binary, remoteBin, 0o755); err != nil {
			return "", err
		}
	}
	if err := d.writeFiles(ctx); err != nil {
		return "", err
	}
	pid, err := d.start(ctx, remoteBin)
	if err != nil {
		return "", err
	}
	return d.wait(ctx, pid)
}

// probe reads the agent's address file and checks for the binary, in one command.
func (d *deployer) probe(ctx context.Context, remoteBin string) (addr string, haveBin bool, err error) {
	cmd := fmt.Sprintf("cat %s 2>/dev/null; echo; if [ -x %s ]; then echo have; fi",
		shellPath(path.Join(d.opts.Dir, AddrFile)), shellPath(remoteBin))
	out, err := d.output(ctx, cmd)
	if err != nil {
		return "", false, err
	}
	lines := strings.Split(out, "\n")
	return strings.TrimSpace(lines[0]), len(lines) > 1 && strings.TrimSpace(lines[1]) == "have", nil
}

// agentFile is a small file Deploy writes into the agent directory.
type agentFile struct {
	name string
	data []byte
	mode os.FileMode
}

// writeFiles writes the secret (0600) and, with a CA, the agent's certificate for the host it listens on, its
// key (0600) and the CA certificate into the agent directory.
func (d *deployer) writeFiles(ctx context.Context) error {
	files := []agentFile{{SecretFile, []byte(d.opts.Secret), 0o600}}
	if d.opts.CA != nil {
		host, _, err := net.SplitHostPort(d.opts.Listen)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", d.opts.Listen, err)
		}
		cert, key, err := d.opts.CA.Issue(host)
		if err != nil {
			return err
		}
		files = append(files, agentFile{agenttls.CAFile, d.opts.CA.CertPEM, 0o644},
			agentFile{agenttls.CertFile, cert, 0o644}, agentFile{agenttls.KeyFile, key, 0o600})
	}
	for _, f := range files {
		if err := d.writeFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes a file of the agent directory through a local temporary file: Upload is the one atomic
// write transports have, and it always writes (a sync would skip a new key of the same size and time).
func (d *deployer) writeFile(ctx context.Context, af agentFile) error {
	f, err := os.CreateTemp("", "stix-agent-file-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(af.data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return d.tr.Upload(ctx, f.Name(), path.Join(d.opts.Dir, af.name), af.mode)
}

// launch starts the agent in a process group of its own (set -m), detached from the command's session and
// output, removing a stale address file first so that the wait sees the new agent's. It prints the pid.
const launch = `set -m; dir=$1; shift; rm -f "$dir/` + AddrFile + `"; "$@" </dev/null >>"$dir/` + LogFile + `" 2>&1 & echo $!`

// dirMark stands for the agent directory in ServeArgs, replaced by its shell form ("$HOME"/...).
const dirMark = "\x00dir"

func (d *deployer) start(ctx context.Context, remoteBin string) (int, error) {
	dir := shellPath(d.opts.Dir)
	args := []string{shellPath(remoteBin)}
	for _, a := range ServeArgs(dirMark, d.opts.Listen) {
		if a == dirMark {
			args = append(args, dir)
		} else {
			args = append(args, quote(a))
		}
	}
	if d.opts.Home != "" {
		args = append(args, "--home", shellPath(d.opts.Home))
	}
	cmd := fmt.Sprintf("mkdir -p %s && bash -c %s stix-launch %s %s", dir, quote(launch), dir, strings.Join(args, " "))
	out, err := d.output(ctx, cmd)
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(out), &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("start %s: no pid reported (%q)", remoteBin, out)
	}
	return pid, nil
}

// wait polls, with a growing interval and a deadline, until the agent wrote its address and answers.
func (d *deployer) wait(ctx context.Context, pid int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.StartTimeout)
	defer cancel()
	addrFile := shellPath(path.Join(d.opts.Dir, AddrFile))
	cmd := fmt.Sprintf("cat %s 2>/dev/null; echo; if kill -0 %d 2>/dev/null; then echo alive; fi", addrFile, pid)
	var last error
	for wait := 20 * time.Millisecond; ; wait = min(wait*2, 500*time.Millisecond) {
		out, err := d.output(ctx, cmd)
		if err != nil && ctx.Err() == nil {
			return "", err
		}
		lines := strings.Split(out, "\n")
		if addr := strings.TrimSpace(lines[0]); addr != "" && err == nil {
			_, herr := d.health(ctx, addr)
			if herr == nil {
				return addr, nil
			}
			if errors.Is(herr, agent.ErrUnauthorized) {
				return "", herr
			}
			last = herr
		}
		if err == nil && !strings.Contains(out, "alive") {
			return "", fmt.Errorf("agent (pid %d) exited during start; end of its log:\n%s", pid, d.logTail())
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := fmt.Sprintf("agent (pid %d) did not answer within %s", pid, d.opts.StartTimeout)
				if last != nil {
					msg += " (last error: " + last.Error() + ")"
				}
				return "", fmt.Errorf("%s; end of its log:\n%s", msg, d.logTail())
			}
			return "", ctx.Err()
		case <-time.After(wait):
		}
	}
}

// healthTimeout bounds one health check.
const healthTimeout = 5 * time.Second

func (d *deployer) health(ctx context.Context, addr string) (*Health, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	return CheckHealth(ctx, d.tr.Dial, addr, d.opts.Secret, d.client...)
}

// logTail returns the end of the agent's log for error messages, with a context of its own: the caller's may
// have ended.
func (d *deployer) logTail() string {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	out, err := d.output(ctx, "tail -n 15 "+shellPath(path.Join(d.opts.Dir, LogFile))+" 2>/dev/null")
	if err != nil || strings.TrimSpace(out) == "" {
		return "(no log)"
	}
	return strings.TrimRight(out, "\n")
}

// output runs cmd and returns its stdout; a non-zero exit is an error carrying its stderr.
func (d *deployer) output(ctx context.Context, cmd string) (string, error) {
	var stdout, stderr bytes.Buffer
	code, err := d.tr.Run(ctx, cmd, transport.RunOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("node command exited %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func fileHash(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// shellPath writes a remote path for the shell the way transports resolve it: "~", "~/x" and relative paths
// under $HOME (an absolute path the agent can use), absolute paths as they are.
func shellPath(p string) string {
	switch {
	case p == "" || p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + quote(p[2:])
	case path.IsAbs(p):
		return quote(p)
	default:
		return `"$HOME"/` + quote(p)
	}
}

// quote makes s one word for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
