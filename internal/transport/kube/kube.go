// Package kube is the transport of a node that is a Kubernetes pod, through the API server alone (no SSH):
// commands run as execs (WebSocket, channel.k8s.io v5), files travel as tar streams into an exec of tar (package
// tarsync), and connections to the node's agent are tunnelled through an exec of the agent's own relay
// (`stix-agent dial HOST:PORT`), so they reach the pod's loopback whatever the cluster's network.
package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/tarsync"
)

// Options describe the pod.
type Options struct {
	Namespace, Pod, Container string
	// Home is the node's home directory; empty asks the pod for its $HOME once.
	Home string
	// Relay is the agent binary on the node (nodeagent.RemoteBinary) whose `dial` subcommand Dial runs; Dial
	// fails without it.
	Relay string
}

// Transport reaches one pod. It is safe for concurrent use.
type Transport struct {
	cli  *kubeapi.Client
	opts Options

	home *transport.ExecHome
}

var _ transport.Transport = (*Transport)(nil)

// New returns the transport of a pod; it does not contact the API server.
func New(cli *kubeapi.Client, opts Options) (*Transport, error) {
	if cli == nil || opts.Namespace == "" || opts.Pod == "" {
		return nil, fmt.Errorf("kubernetes transport: a client, a namespace and a pod are required")
	}
	t := &Transport{cli: cli, opts: opts}
	var err error
	if t.home, err = transport.NewExecHome(opts.Home, "kubernetes transport"); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Transport) where() string { return "pod " + t.opts.Namespace + "/" + t.opts.Pod }

// Home returns the node's home directory, asking the pod for $HOME the first time.
func (t *Transport) Home(ctx context.Context) (string, error) {
	return t.home.Get(ctx, t.where(), func(ctx context.Context, argv []string, stdout io.Writer) (int, error) {
		return t.exec(ctx, argv, nil, stdout, nil)
	})
}

// Resolve maps a remote path to an absolute path in the pod.
func (t *Transport) Resolve(ctx context.Context, remote string) (string, error) {
	return transport.Resolve(ctx, remote, t.Home)
}

func (t *Transport) exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return t.cli.Exec(ctx, kubeapi.ExecRequest{Namespace: t.opts.Namespace, Pod: t.opts.Pod, Container: t.opts.Container,
		Command: argv, Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// envScript enters $1 and runs the rest of its arguments with env: the exec API takes an argv and no
// environment or working directory.
const envScript = `cd -- "$1" || exit 126; shift; exec env "$@"`

// Run runs cmd in the pod with bash (else sh), in the node's home directory unless opts.Dir says otherwise.
// When ctx ends, the command and its children are killed and Run returns ctx's error.
func (t *Transport) Run(ctx context.Context, cmd string, opts transport.RunOptions) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	dir, err := t.Resolve(ctx, opts.Dir)
	if err != nil {
		return -1, fmt.Errorf("run on %s: %w", t.where(), err)
	}
	home, err := t.Home(ctx)
	if err != nil {
		return -1, fmt.Errorf("run on %s: %w", t.where(), err)
	}
	marker, err := newMarker()
	if err != nil {
		return -1, err
	}
	argv := []string{"/bin/sh", "-c", envScript, "stix", dir, "HOME=" + home}
	argv = append(argv, opts.Env...)
	argv = append(argv, transport.ExecMarker+"="+marker, "/bin/sh", "-c", transport.ShellWrapper, "stix", cmd)
	code, err := t.exec(ctx, argv, opts.Stdin, opts.Stdout, opts.Stderr)
	if ctx.Err() != nil {
		t.kill(marker)
		return -1, ctx.Err()
	}
	if err != nil {
		return -1, fmt.Errorf("run on %s: %w", t.where(), err)
	}
	return code, nil
}

// kill ends the process tree of the exec that carries marker, on its own context: the caller's has ended.
func (t *Transport) kill(marker string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.exec(ctx, []string{"/bin/sh", "-c", transport.KillScript, "stix-kill", marker}, nil, nil, nil)
}

func newMarker() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("exec marker: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Sync makes the remote path dst a copy of the local path src (package tarsync over execs).
func (t *Transport) Sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	dstPath, err := t.Resolve(ctx, dst)
	if err != nil {
		return transport.SyncStats{}, fmt.Errorf("sync %s to %s: %w", src, t.where(), err)
	}
	st, err := tarsync.Sync(ctx, execNode{t}, src, dstPath, opts)
	if err != nil {
		return st, fmt.Errorf("sync %s to %s on %s: %w", src, dstPath, t.where(), err)
	}
	return st, nil
}

// Upload writes localPath to remotePath with permissions mode, atomically.
func (t *Transport) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	dst, err := t.Resolve(ctx, remotePath)
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", localPath, t.where(), err)
	}
	if err := tarsync.Upload(ctx, execNode{t}, localPath, dst, mode); err != nil {
		return fmt.Errorf("upload %s to %s on %s: %w", localPath, dst, t.where(), err)
	}
	return nil
}

// execNode is the pod as tarsync sees it: scripts and tar both run as execs.
type execNode struct{ t *Transport }

func (n execNode) Script(ctx context.Context, script string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return n.t.exec(ctx, append([]string{"/bin/sh", "-c", script, "stix"}, args...), stdin, stdout, stderr)
}

func (n execNode) Untar(ctx context.Context, dir string, stream func(io.Writer) error) error {
	var errOut strings.Builder
	var code int
	err := tarsync.Pipe(stream, func(r io.Reader) error {
		var err error
		code, err = n.Script(ctx, tarsync.UntarScript, []string{dir}, r, nil, &errOut)
		return err
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("untar into %s: exit status %d: %s", dir, code, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// Dial connects to addr as the pod sees it, through an exec of the agent's relay in the pod. A loopback or
// unspecified host means the pod itself.
func (t *Transport) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.opts.Relay == "" {
		return nil, fmt.Errorf("dial %s on %s: no relay binary on the node", addr, t.where())
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s on %s: %w", addr, t.where(), err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	relay, err := t.Resolve(ctx, t.opts.Relay)
	if err != nil {
		return nil, err
	}
	c, err := t.cli.ExecConn(ctx, kubeapi.ExecRequest{Namespace: t.opts.Namespace, Pod: t.opts.Pod, Container: t.opts.Container,
		Command: []string{relay, "dial", net.JoinHostPort(host, port)}})
	if err != nil {
		return nil, fmt.Errorf("dial %s on %s: %w", addr, t.where(), err)
	}
	return c, nil
}

// Close does nothing: the client is the caller's.
func (t *Transport) Close() error { return nil }
