package nodeagent

import (
	"archive/tar"
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
	"sync"
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
	// Fresh says the node was just made, so no agent can be running there: Deploy does not look for one, and
	// learns whether the node has the binary (a node image may carry it) from the start command itself.
	Fresh bool
}

// Deploy makes sure a healthy agent serves opts.Dir on the node tr reaches, and returns its address as the node
// sees it (dial it with tr.Dial) and the health it answered with (callers need not ask again). An agent already
// healthy there with the same secret is left alone. Otherwise
// the binary is uploaded unless the node has this version (its file name carries the binary's hash), the
// secret is written (0600), and the agent is started detached, with its output in Dir/agent.log.
func Deploy(ctx context.Context, tr transport.Transport, opts DeployOptions) (addr string, h *Health, err error) {
	if opts.Binary == "" || opts.Dir == "" || opts.Secret == "" {
		return "", nil, errors.New("deploy agent: Binary, Dir and Secret are required")
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
			return "", nil, fmt.Errorf("deploy agent in %s: %w", opts.Dir, err)
		}
		d.client = append(d.client, agent.WithTLS(cfg))
	}
	addr, h, err = d.deploy(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("deploy agent in %s: %w", opts.Dir, err)
	}
	return addr, h, nil
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

func (d *deployer) deploy(ctx context.Context) (string, *Health, error) {
	remoteBin, err := RemoteBinary(d.opts.Binary, d.opts.BinDir)
	if err != nil {
		return "", nil, err
	}
	haveBin := d.opts.Fresh // a fresh node says at start whether it lacks the binary
	if !d.opts.Fresh {
		var addr string
		if addr, haveBin, err = d.probe(ctx, remoteBin); err != nil {
			return "", nil, err
		}
		if addr != "" {
			h, err := d.health(ctx, addr)
			switch {
			case err == nil:
				return addr, h, nil
			case errors.Is(err, agent.ErrUnauthorized):
				return "", nil, fmt.Errorf("an agent with another secret serves %s: %w", d.opts.Dir, err)
			}
			// A stale address (the agent died): start a new agent.
		}
	}
	files, err := d.agentFiles()
	if err != nil {
		return "", nil, err
	}
	for {
		if !haveBin {
			if err := d.tr.Upload(ctx, d.opts.Binary, remoteBin, 0o755); err != nil {
				return "", nil, err
			}
		}
		pid, addr, err := d.start(ctx, remoteBin, files)
		if errors.Is(err, errNoBinary) && haveBin {
			haveBin = false
			continue
		}
		if err != nil {
			return "", nil, err
		}
		// The start command waits a moment for the address itself: most agents answer within it, saving the
		// polls' round trips.
		if addr != "" {
			if h, err := d.health(ctx, addr); err == nil {
				return addr, h, nil
			}
		}
		return d.wait(ctx, pid)
	}
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

// agentFiles returns, as a tar stream, the secret (0600) and, with a CA, the agent's certificate for the host
// it listens on, its key (0600) and the CA certificate: what start unpacks into the agent directory. They travel
// on the start command's input, so they cost no round trip of their own (docker exec, SSH).
func (d *deployer) agentFiles() ([]byte, error) {
	files := []agentFile{{SecretFile, []byte(d.opts.Secret), 0o600}}
	if d.opts.CA != nil {
		host, _, err := net.SplitHostPort(d.opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", d.opts.Listen, err)
		}
		cert, key, err := d.opts.CA.Issue(host)
		if err != nil {
			return nil, err
		}
		files = append(files, agentFile{agenttls.CAFile, d.opts.CA.CertPEM, 0o644},
			agentFile{agenttls.CertFile, cert, 0o644}, agentFile{agenttls.KeyFile, key, 0o600})
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: int64(f.mode), Size: int64(len(f.data)), ModTime: time.Now(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// launch starts the agent in a process group of its own (set -m), detached from the command's session and
// output, removing a stale address file first so that the wait sees the new agent's. It prints the pid, then
// the address once the agent has written it (waiting up to 2 s, while the agent lives), else an empty line.
const launch = `set -m; dir=$1; shift; rm -f "$dir/` + AddrFile + `"; "$@" </dev/null >>"$dir/` + LogFile + `" 2>&1 & pid=$!; echo $pid
i=0; while [ $i -lt 100 ] && [ ! -s "$dir/` + AddrFile + `" ] && kill -0 $pid 2>/dev/null; do sleep 0.02; i=$((i+1)); done
cat "$dir/` + AddrFile + `" 2>/dev/null; echo`

// noBinary is what the start command prints when the node lacks the agent binary.
const noBinary = "stix: no agent binary"

var errNoBinary = errors.New(noBinary)

// dirMark stands for the agent directory in ServeArgs, replaced by its shell form ("$HOME"/...).
const dirMark = "\x00dir"

// start unpacks files (a tar stream) into the agent directory and starts the agent, in one command; it returns
// the agent's pid and, when it answered quickly, its address. A node without the binary is errNoBinary.
func (d *deployer) start(ctx context.Context, remoteBin string, files []byte) (pid int, addr string, err error) {
	dir := shellPath(d.opts.Dir)
	args := []string{shellPath(remoteBin)}
	for _, a := range ServeArgs(dirMark, d.opts.Listen) {
		if a == dirMark {
			args = append(args, dir)
		} else {
			args = append(args, transport.Quote(a))
		}
	}
	if d.opts.Home != "" {
		args = append(args, "--home", shellPath(d.opts.Home))
	}
	cmd := fmt.Sprintf("if [ ! -x %s ]; then echo %s; exit 0; fi; mkdir -p %s && (cd %s && umask 077 && tar -xof -) && bash -c %s stix-launch %s %s",
		shellPath(remoteBin), transport.Quote(noBinary), dir, dir, transport.Quote(launch), dir, strings.Join(args, " "))
	out, err := d.run(ctx, cmd, bytes.NewReader(files))
	if err != nil {
		return 0, "", err
	}
	if strings.TrimSpace(out) == noBinary {
		return 0, "", errNoBinary
	}
	lines := strings.SplitN(out, "\n", 3)
	if _, err := fmt.Sscan(strings.TrimSpace(lines[0]), &pid); err != nil || pid <= 0 {
		return 0, "", fmt.Errorf("start %s: no pid reported (%q)", remoteBin, out)
	}
	if len(lines) > 1 {
		addr = strings.TrimSpace(lines[1])
	}
	return pid, addr, nil
}

// wait polls, with a growing interval and a deadline, until the agent wrote its address and answers.
func (d *deployer) wait(ctx context.Context, pid int) (string, *Health, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.StartTimeout)
	defer cancel()
	addrFile := shellPath(path.Join(d.opts.Dir, AddrFile))
	cmd := fmt.Sprintf("cat %s 2>/dev/null; echo; if kill -0 %d 2>/dev/null; then echo alive; fi", addrFile, pid)
	var last error
	for wait := 20 * time.Millisecond; ; wait = min(wait*2, 500*time.Millisecond) {
		out, err := d.output(ctx, cmd)
		if err != nil && ctx.Err() == nil {
			return "", nil, err
		}
		lines := strings.Split(out, "\n")
		if addr := strings.TrimSpace(lines[0]); addr != "" && err == nil {
			h, herr := d.health(ctx, addr)
			if herr == nil {
				return addr, h, nil
			}
			if errors.Is(herr, agent.ErrUnauthorized) {
				return "", nil, herr
			}
			last = herr
		}
		if err == nil && !strings.Contains(out, "alive") {
			return "", nil, fmt.Errorf("agent (pid %d) exited during start; end of its log:\n%s", pid, d.logTail())
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := fmt.Sprintf("agent (pid %d) did not answer within %s", pid, d.opts.StartTimeout)
				if last != nil {
					msg += " (last error: " + last.Error() + ")"
				}
				return "", nil, fmt.Errorf("%s; end of its log:\n%s", msg, d.logTail())
			}
			return "", nil, ctx.Err()
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
	return d.run(ctx, cmd, nil)
}

// run runs cmd with stdin as its input and returns its stdout, as output does.
func (d *deployer) run(ctx context.Context, cmd string, stdin io.Reader) (string, error) {
	var stdout, stderr bytes.Buffer
	code, err := d.tr.Run(ctx, cmd, transport.RunOptions{Stdin: stdin, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("node command exited %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// fileHashes caches fileHash by path, size and modification time: one launch asks for the agent binary's hash
// once per node and again for the node image, and each ask would read the whole binary.
var fileHashes struct {
	sync.Mutex
	m map[fileHashKey]string
}

type fileHashKey struct {
	path  string
	size  int64
	mtime time.Time
}

// fileHash returns the hex SHA-256 of the file at p.
func fileHash(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	key := fileHashKey{p, fi.Size(), fi.ModTime()}
	fileHashes.Lock()
	sum, ok := fileHashes.m[key]
	fileHashes.Unlock()
	if ok {
		return sum, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	fileHashes.Lock()
	if fileHashes.m == nil {
		fileHashes.m = map[fileHashKey]string{}
	}
	fileHashes.m[key] = sum
	fileHashes.Unlock()
	return sum, nil
}

// shellPath writes a remote path for the shell the way transports resolve it: "~", "~/x" and relative paths
// under $HOME (an absolute path the agent can use), absolute paths as they are.
func shellPath(p string) string {
	switch {
	case p == "" || p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + transport.Quote(p[2:])
	case path.IsAbs(p):
		return transport.Quote(p)
	default:
		return `"$HOME"/` + transport.Quote(p)
	}
}
