// Package ssh is the transport of a node reached over SSH: one golang.org/x/crypto/ssh connection per node,
// opened by Dial and reused for every command (a session each), every file (SFTP over the same connection, or
// tar streams over sessions when sshd has no SFTP subsystem) and every tunnel to the node's agent
// (direct-tcpip). Host keys follow OpenSSH's accept-new policy against a
// known_hosts file of the caller's choosing (one per cluster).
package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/stix-run/stix/internal/transport"
)

// Defaults for the zero values of Config.
const (
	DefaultPort           = 22
	DefaultConnectTimeout = 15 * time.Second
)

// Config says how to reach a node.
type Config struct {
	// Host is the server's name or IP; Port defaults to 22.
	Host string
	Port int
	// User is the login name; empty means the local user's name.
	User string
	// IdentityFiles are private key files to offer (unencrypted; encrypted keys must be in the ssh-agent).
	// Empty with UseAgent false means ~/.ssh/id_ed25519, id_ecdsa and id_rsa, those that exist.
	IdentityFiles []string
	// UseAgent also offers the keys of the ssh-agent at $SSH_AUTH_SOCK.
	UseAgent bool
	// KnownHostsFile records the host keys of the cluster's nodes (required). A host it does not list is
	// trusted and added on first contact; a host whose key differs from the recorded one is refused.
	KnownHostsFile string
	// ProxyJump, when set, is the jump host the connection goes through (ssh -J). Its KnownHostsFile defaults
	// to this one's.
	ProxyJump *Config
	// KeepAlive is the interval of keepalive@openssh.com requests; 0 means none. A request unanswered within
	// the interval closes the connection, so that a dead node fails commands fast.
	KeepAlive time.Duration
	// ConnectTimeout bounds the TCP connect and the SSH handshake; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// addr is host:port.
func (c *Config) addr() string {
	port := c.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// Transport is a node reached over one SSH connection. It is safe for concurrent use.
type Transport struct {
	cfg    Config
	client *ssh.Client
	jump   *Transport   // the jump host's transport, closed with this one
	sftp   *sftp.Client // nil when sshd has no SFTP subsystem: files go through package tarsync
	home   string       // the login's home directory on the node

	done      chan struct{} // closed by Close; stops the keepalive loop
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

var _ transport.Transport = (*Transport)(nil)

// Dial opens the SSH connection (through cfg.ProxyJump when set) and the SFTP session over it, when sshd offers
// one. Errors are
// *UnreachableError, *AuthError or *HostKeyChangedError where they apply.
func Dial(ctx context.Context, cfg Config) (*Transport, error) {
	if cfg.Host == "" {
		return nil, errors.New("ssh: no host given")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	var jump *Transport
	if cfg.ProxyJump != nil {
		jc := *cfg.ProxyJump
		if jc.KnownHostsFile == "" {
			jc.KnownHostsFile = cfg.KnownHostsFile
		}
		var err error
		if jump, err = Dial(ctx, jc); err != nil {
			return nil, fmt.Errorf("ssh: jump host %s: %w", jc.addr(), err)
		}
	}
	t, err := dial(ctx, cfg, jump)
	if err != nil {
		if jump != nil {
			jump.Close()
		}
		return nil, err
	}
	return t, nil
}

func dial(ctx context.Context, cfg Config, jump *Transport) (*Transport, error) {
	addr := cfg.addr()
	user := cfg.User
	if user == "" {
		user = localUser()
	}
	auth, tried, release, err := authMethods(cfg)
	if err != nil {
		return nil, err
	}
	defer release()
	hk := &hostKeys{file: cfg.KnownHostsFile}
	algos, err := hk.load(addr)
	if err != nil {
		return nil, err
	}
	ccfg := &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: hk.callback, HostKeyAlgorithms: algos,
		Timeout: cfg.ConnectTimeout}

	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var conn net.Conn
	via := ""
	if jump != nil {
		via = jump.cfg.addr()
		conn, err = jump.client.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, &UnreachableError{Addr: addr, Via: via, Err: err}
	}
	// The handshake has no context of its own: a deadline on the connection bounds it, and ending ctx closes it.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, ccfg)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		// The connection's deadline is ctx's: whichever of the two the handshake saw first, running past it
		// is a handshake timeout (a caller may retry), not a refused key.
		timedOut := errors.Is(err, os.ErrDeadlineExceeded) ||
			ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded)
		switch {
		case hk.changed != nil:
			return nil, hk.changed
		case timedOut:
			return nil, &UnreachableError{Addr: addr, Via: via, Err: fmt.Errorf("no SSH handshake within %s", cfg.ConnectTimeout)}
		case hk.accepted && ctx.Err() == nil:
			return nil, &AuthError{User: user, Addr: addr, Tried: tried, Err: err}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("ssh %s: %w", addr, ctx.Err())
		case !hk.accepted && hk.changed == nil && isNetErr(err):
			return nil, &UnreachableError{Addr: addr, Via: via, Err: err}
		default:
			return nil, fmt.Errorf("ssh %s: %w", addr, err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	t := &Transport{cfg: cfg, client: ssh.NewClient(c, chans, reqs), jump: jump, done: make(chan struct{})}
	t.cfg.User = user
	// Without SFTP (sshd has no `Subsystem sftp`) files travel as tar streams over exec sessions instead.
	if t.sftp, err = sftp.NewClient(t.client, sftp.UseConcurrentWrites(true)); err != nil {
		t.sftp = nil
	}
	if t.home, err = t.homeDir(); err != nil {
		t.Close()
		return nil, fmt.Errorf("ssh %s: home directory: %w", addr, err)
	}
	if cfg.KeepAlive > 0 {
		t.wg.Add(1)
		go t.keepAlive(cfg.KeepAlive)
	}
	return t, nil
}

// homeDir is the login's home directory: SFTP's initial working directory, or without SFTP the $HOME of a
// session.
func (t *Transport) homeDir() (string, error) {
	if t.sftp != nil {
		return t.sftp.Getwd()
	}
	s, err := t.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.Output(`printf %s "$HOME"`)
	if err != nil {
		return "", err
	}
	if home := string(out); path.IsAbs(home) {
		return path.Clean(home), nil
	}
	return "", fmt.Errorf("the login has no usable $HOME (%q)", out)
}

// isNetErr reports whether err came from the network (a reset or EOF before the server said anything useful).
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET)
}

// keepAlive sends keepalive@openssh.com every interval and closes the connection when one goes unanswered, so
// that sessions on a dead node fail instead of hanging.
func (t *Transport) keepAlive(every time.Duration) {
	defer t.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		replied := make(chan error, 1)
		go func() {
			_, _, err := t.client.SendRequest("keepalive@openssh.com", true, nil)
			replied <- err
		}()
		select {
		case <-t.done:
			return
		case err := <-replied:
			if err != nil {
				t.client.Close()
				return
			}
		case <-time.After(every):
			t.client.Close() // unblocks SendRequest, whose goroutine then ends
			return
		}
	}
}

// Addr returns host:port of the node.
func (t *Transport) Addr() string { return t.cfg.addr() }

// Home returns the login's home directory on the node.
func (t *Transport) Home() string { return t.home }

// Resolve maps a remote path to an absolute one (transport.ResolvePath): "~" and "~/x" into the home
// directory, relative paths relative to it, absolute paths unchanged.
func (t *Transport) Resolve(remote string) string { return transport.ResolvePath(t.home, remote) }

// Dial connects to addr as the node sees it, through the SSH connection (a direct-tcpip channel).
func (t *Transport) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: tunnel to %s: %w", t.Addr(), addr, err)
	}
	return c, nil
}

// Close closes the SFTP session, the SSH connection and the jump host's connection.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.done)
		if t.sftp != nil {
			t.sftp.Close()
		}
		t.closeErr = t.client.Close()
		t.wg.Wait()
		if t.jump != nil {
			t.jump.Close()
		}
		if errors.Is(t.closeErr, net.ErrClosed) {
			t.closeErr = nil
		}
	})
	return t.closeErr
}

func localUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

// defaultIdentities are OpenSSH's default key files that exist.
func defaultIdentities() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
