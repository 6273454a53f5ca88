package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stix-run/stix/internal/lazyregexp"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// The channels of the channel.k8s.io subprotocols: each message's first byte.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanClose  = 255 // v5: the client closes one of its streams ([255, channel])
)

// execProtocols are offered in order of preference: v5 can close stdin, which a command reading its input to the
// end needs.
var execProtocols = []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}

// ExecRequest is a command to run in a pod's container.
type ExecRequest struct {
	Namespace, Pod, Container string
	Command                   []string
	// Stdin feeds the command (nil: none); Stdout and Stderr receive its output (nil: discarded).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

func (r ExecRequest) path() string {
	kv := []string{"container", r.Container, "stdout", "true", "stderr", "true"}
	if r.Container == "" {
		kv = kv[2:]
	}
	if r.Stdin != nil {
		kv = append(kv, "stdin", "true")
	}
	for _, c := range r.Command {
		kv = append(kv, "command", c)
	}
	return Query(NSPath(r.Namespace, "pods", r.Pod)+"/exec", kv...)
}

// ExitError is a command's non-zero exit status as the API server reports it.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "exit status " + strconv.Itoa(e.Code) }

// Exec runs a command in a pod and returns its exit status. err is non-nil when the command could not be run
// (the pod is gone, the API refused, ctx ended); ctx ending closes the stream, which does not by itself end the
// command in the pod.
func (c *Client) Exec(ctx context.Context, r ExecRequest) (int, error) {
	if r.Stdin != nil {
		in, n, cleanup, err := spool(r.Stdin)
		if err != nil {
			return -1, fmt.Errorf("exec in pod %s/%s: %w", r.Namespace, r.Pod, err)
		}
		defer cleanup()
		r.Stdin = in
		r.Command = append([]string{"/bin/sh", "-c", sizedStdin, "stix", strconv.FormatInt(n, 10)}, r.Command...)
	}
	ws, err := c.dialWebSocket(ctx, r.path(), execProtocols)
	if err != nil {
		return -1, fmt.Errorf("exec in pod %s/%s: %w", r.Namespace, r.Pod, err)
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	if r.Stdin != nil {
		go pumpStdin(ws, r.Stdin)
	}
	code, err := readExec(ws, r.Stdout, r.Stderr)
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if err != nil {
		return -1, fmt.Errorf("exec in pod %s/%s: %w", r.Namespace, r.Pod, err)
	}
	return code, nil
}

// sizedStdin gives the command exactly $1 bytes of input and then its end: the end of the exec's stdin cannot
// be relied on (v4 servers cannot signal it, and some kubelets, kwok's among them, never pass it on).
const sizedStdin = `n=$1; shift; head -c "$n" | "$@"`

// spool copies the input to a temporary file, to learn its size before the command starts.
func spool(in io.Reader) (io.Reader, int64, func(), error) {
	f, err := os.CreateTemp("", "stix-exec-stdin-")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, in)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("read the command's input: %w", err)
	}
	return f, n, cleanup, nil
}

// pumpStdin copies in to the command's stdin, then closes it (v5).
func pumpStdin(ws *wsConn, in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf[1:])
		if n > 0 {
			buf[0] = chanStdin
			if ws.WriteMessage(opBinary, buf[:n+1]) != nil {
				return
			}
		}
		if err != nil {
			break
		}
	}
	if ws.protocol == "v5.channel.k8s.io" {
		ws.WriteMessage(opBinary, []byte{chanClose, chanStdin})
	}
}

// readExec dispatches the output until the stream ends and returns the exit status from the error channel.
func readExec(ws *wsConn, stdout, stderr io.Writer) (int, error) {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var status []byte
	for {
		msg, err := ws.ReadMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return -1, err
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case chanStdout:
			if _, err := stdout.Write(msg[1:]); err != nil {
				return -1, err
			}
		case chanStderr:
			if _, err := stderr.Write(msg[1:]); err != nil {
				return -1, err
			}
		case chanError:
			status = append(status, msg[1:]...)
		}
	}
	return exitStatus(status)
}

// exitStatus reads the Status the API server sends on the error channel when the command ends.
func exitStatus(raw []byte) (int, error) {
	if len(raw) == 0 {
		return -1, errors.New("the stream ended without the command's exit status")
	}
	var st struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Details struct {
			Causes []struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"causes"`
		} `json:"details"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return -1, fmt.Errorf("exit status %q: %v", raw, err)
	}
	if st.Status == "Success" {
		return 0, nil
	}
	if st.Reason == "NonZeroExitCode" {
		for _, c := range st.Details.Causes {
			if c.Reason == "ExitCode" {
				if n, err := strconv.Atoi(c.Message); err == nil {
					return n, nil
				}
			}
		}
	}
	// Kubelets that wrap the command's error (kwok's does) report its status only in the message.
	if m := exitInMessage.FindStringSubmatch(st.Message); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n, nil
		}
	}
	return -1, errors.New(st.Message)
}

var exitInMessage = lazyregexp.New(`: exit status (\d+)$`)

// ExecConn runs a command in a pod and returns its stdin and stdout as a connection: what a tunnel through a
// relay command is. Its stderr is kept for the error of a read that finds the stream ended early.
func (c *Client) ExecConn(ctx context.Context, r ExecRequest) (net.Conn, error) {
	r.Stdin = eofReader{} // asks for a stdin channel; ExecConn writes it itself
	ws, err := c.dialWebSocket(ctx, r.path(), execProtocols)
	if err != nil {
		return nil, fmt.Errorf("exec in pod %s/%s: %w", r.Namespace, r.Pod, err)
	}
	pr, pw := io.Pipe()
	ec := &execConn{ws: ws, r: pr, name: r.Namespace + "/" + r.Pod}
	go func() {
		var stderr limitedBuffer
		code, err := readExec(ws, pw, &stderr)
		if err == nil {
			err = io.EOF
			if code != 0 {
				err = fmt.Errorf("relay in pod %s exited with status %d: %s", ec.name, code, stderr.String())
			}
		}
		pw.CloseWithError(err)
	}()
	return ec, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type execConn struct {
	ws   *wsConn
	r    *io.PipeReader
	name string
	once sync.Once
}

func (e *execConn) Read(p []byte) (int, error) { return e.r.Read(p) }

func (e *execConn) Write(p []byte) (int, error) {
	// Messages are bounded so that one Write never holds the connection for long.
	const chunk = 32 << 10
	n := 0
	for len(p) > 0 {
		m := min(len(p), chunk)
		if err := e.ws.WriteMessage(opBinary, append([]byte{chanStdin}, p[:m]...)); err != nil {
			return n, err
		}
		n, p = n+m, p[m:]
	}
	return n, nil
}

func (e *execConn) Close() error {
	e.once.Do(func() {
		if e.ws.protocol == "v5.channel.k8s.io" {
			e.ws.WriteMessage(opBinary, []byte{chanClose, chanStdin})
		}
		e.ws.Close()
		e.r.Close()
	})
	return nil
}

func (e *execConn) LocalAddr() net.Addr  { return execAddr(e.name) }
func (e *execConn) RemoteAddr() net.Addr { return execAddr(e.name) }

// Deadlines are not supported on an exec stream; callers bound their calls with contexts.
func (e *execConn) SetDeadline(time.Time) error      { return nil }
func (e *execConn) SetReadDeadline(time.Time) error  { return nil }
func (e *execConn) SetWriteDeadline(time.Time) error { return nil }

type execAddr string

func (a execAddr) Network() string { return "k8s-exec" }
func (a execAddr) String() string  { return string(a) }

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
func (l *limitedBuffer) String() string { return string(l.b) }
