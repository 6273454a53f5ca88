package dockerapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// Attached is a started exec's stream: the command's stdin is written to Conn, its output (multiplexed, see
// Demux) is read from Reader.
type Attached struct {
	Conn   net.Conn
	Reader *bufio.Reader

	closeOnce sync.Once
}

// Close closes the connection; a reader blocked on it returns.
func (a *Attached) Close() {
	a.closeOnce.Do(func() { a.Conn.Close() })
}

// CloseWrite ends the command's stdin, keeping its output readable.
func (a *Attached) CloseWrite() error {
	if cw, ok := a.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ExecAttach starts an exec made by ExecCreate and returns its stream: the engine upgrades the HTTP connection to
// a raw one, as for `docker exec -i`. When ctx ends before the engine has answered, the connection is closed.
func (c *Client) ExecAttach(ctx context.Context, execID string) (*Attached, error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/exec/"+pathEscape(execID)+"/start", nil,
		struct {
			Detach bool `json:"Detach"`
			Tty    bool `json:"Tty"`
		}{})
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, c.connectError(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	a, err := handshake(conn, req)
	if !stop() || err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return a, nil
}

func handshake(conn net.Conn, req *http.Request) (*Attached, error) {
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("start exec: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("start exec: %w", err)
	}
	if err := responseError(resp); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("start exec: unable to upgrade to tcp, received %d", resp.StatusCode)
	}
	return &Attached{Conn: conn, Reader: br}, nil
}

// Demux copies a multiplexed stream (exec or logs output without a TTY: frames of an 8-byte header, whose first
// byte says stdout 1 or stderr 2 and last four the length, then the payload) to stdout and stderr, until the
// stream ends. A clean end is not an error.
func Demux(stdout, stderr io.Writer, r io.Reader) error {
	var hdr [8]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var w io.Writer
		switch hdr[0] {
		case 0, 1:
			w = stdout
		case 2:
			w = stderr
		case 3: // the engine's own error about the stream
			n := binary.BigEndian.Uint32(hdr[4:])
			msg, _ := io.ReadAll(io.LimitReader(r, int64(n)))
			return fmt.Errorf("docker stream error: %s", msg)
		default:
			return fmt.Errorf("docker stream: unknown frame type %d", hdr[0])
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		for n > 0 {
			chunk := buf[:min(n, int64(len(buf)))]
			m, err := io.ReadFull(r, chunk)
			if m > 0 {
				if _, werr := w.Write(chunk[:m]); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			n -= int64(m)
		}
	}
}
