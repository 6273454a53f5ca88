package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/transport"
)

// The shell wrapper, the exec marker and the kill script are shared with the other exec-based transports.
const (
	shellWrapper = transport.ShellWrapper
	execMarker   = transport.ExecMarker
	killScript   = transport.KillScript
)

// Run runs cmd in the container with bash (else sh), in the node's home directory unless opts.Dir says
// otherwise. When ctx ends, the command and its children are killed and Run returns ctx's error.
func (t *Transport) Run(ctx context.Context, cmd string, opts transport.RunOptions) (int, error) {
	dir, err := t.Resolve(ctx, opts.Dir)
	if err != nil {
		return -1, fmt.Errorf("run on docker container %s: %w", short(t.id), err)
	}
	home, err := t.Home(ctx)
	if err != nil {
		return -1, fmt.Errorf("run on docker container %s: %w", short(t.id), err)
	}
	env := append([]string{"HOME=" + home}, opts.Env...)
	code, err := t.exec(ctx, []string{"/bin/sh", "-c", shellWrapper, "stix", cmd}, execOptions{
		env: env, dir: dir, stdin: opts.Stdin, stdout: opts.Stdout, stderr: opts.Stderr,
	})
	if err != nil {
		return -1, fmt.Errorf("run on docker container %s: %w", short(t.id), err)
	}
	return code, nil
}

// execOptions are the parts of one exec.
type execOptions struct {
	env            []string
	dir            string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// exec runs argv in the container and returns its exit status: create, attach (which starts it), copy the
// multiplexed output, then inspect for the status. When ctx ends first, the process tree is killed.
func (t *Transport) exec(ctx context.Context, argv []string, o execOptions) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	marker, err := newMarker()
	if err != nil {
		return -1, err
	}
	execID, err := t.cli.ExecCreate(ctx, t.id, dockerapi.ExecConfig{
		Cmd: argv, Env: append(o.env, execMarker+"="+marker), WorkingDir: o.dir,
		AttachStdin: o.stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, fmt.Errorf("create exec: %w", err)
	}
	hj, err := t.cli.ExecAttach(ctx, execID)
	if err != nil {
		return -1, fmt.Errorf("start exec: %w", err)
	}
	defer hj.Close()
	// Closing the connection is what unblocks the output copy when ctx ends.
	stop := context.AfterFunc(ctx, hj.Close)
	defer stop()
	if o.stdin != nil {
		// The writer ends when the input does or when the connection is closed; it is not waited for, like an
		// ssh session's input, because a command may exit without reading all of it.
		go func() {
			io.Copy(hj.Conn, o.stdin)
			hj.CloseWrite()
		}()
	}
	stdout, stderr := o.stdout, o.stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	copyErr := dockerapi.Demux(stdout, stderr, hj.Reader)
	if ctx.Err() != nil {
		t.kill(marker)
		return -1, ctx.Err()
	}
	if copyErr != nil && !errors.Is(copyErr, io.EOF) {
		return -1, fmt.Errorf("read exec output: %w", copyErr)
	}
	return t.exitCode(ctx, execID)
}

// exitCode waits for the engine to record the exec's exit: its output can end a moment before.
func (t *Transport) exitCode(ctx context.Context, execID string) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		running, code, err := t.cli.ExecInspect(ctx, execID)
		if err != nil {
			return -1, fmt.Errorf("inspect exec: %w", err)
		}
		if !running {
			return code, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("exec %s: output ended but the engine still reports it running after 30s", short(execID))
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// kill ends the process tree of the exec that carries marker. It runs on its own context because the caller's
// has ended; a failure leaves nothing to do but report through the caller's ctx error.
func (t *Transport) kill(marker string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.exec(ctx, []string{"/bin/sh", "-c", killScript, "stix-kill", marker}, execOptions{})
}

func newMarker() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("exec marker: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
