package docker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// check pings the Docker engine: DOCKER_HOST (unix:// or tcp://), else the first of the usual sockets
// that exists: /var/run/docker.sock, the rootless $XDG_RUNTIME_DIR/docker.sock, Docker Desktop's
// ~/.docker/run/docker.sock. The ping is `GET /_ping`, bounded by Env.DockerTimeout.
func check(ctx context.Context, e *credcheck.Env) credcheck.Result {
	if host := e.Var("DOCKER_HOST"); host != "" {
		u, err := url.Parse(host)
		if err != nil {
			return credcheck.Disabled("DOCKER_HOST=%q is not a URL: use unix:///path/to/docker.sock or tcp://HOST:PORT", host)
		}
		switch u.Scheme {
		case "unix":
			return pingDocker(ctx, e, "unix", u.Path, host)
		case "tcp":
			if e.Var("DOCKER_TLS_VERIFY") != "" {
				return dialDocker(ctx, e, u.Host, host)
			}
			return pingDocker(ctx, e, "tcp", u.Host, host)
		}
		return credcheck.Disabled("DOCKER_HOST=%s: stix reaches Docker over unix:// or tcp:// only", host)
	}
	var candidates []string
	candidates = append(candidates, e.System("/var/run/docker.sock"))
	if d := e.Var("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "docker.sock"))
	}
	if p := e.HomeFile(".docker", "run", "docker.sock"); p != "" {
		candidates = append(candidates, p)
	}
	var last *credcheck.Result
	for _, sock := range candidates {
		if !credcheck.Exists(sock) {
			continue
		}
		r := pingDocker(ctx, e, "unix", sock, "unix://"+sock)
		if r.Enabled {
			return r
		}
		last = &r
	}
	if last != nil {
		return *last
	}
	shown := make([]string, len(candidates))
	for i, c := range candidates {
		shown[i] = e.Show(c)
	}
	return credcheck.Disabled("no Docker engine: none of %s exists; start Docker, or set DOCKER_HOST", strings.Join(shown, ", "))
}

// pingDocker sends GET /_ping to the engine at addr over network ("unix" or "tcp"); shown names it in messages.
func pingDocker(ctx context.Context, e *credcheck.Env, network, addr, shown string) credcheck.Result {
	ctx, cancel := context.WithTimeout(ctx, e.DockerTimeout)
	defer cancel()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	// The host part is ignored by the dialer above; "docker" is what the Docker CLI sends over a socket.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return credcheck.Disabled("ping Docker engine at %s: %v", shown, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return credcheck.Disabled("Docker engine at %s did not answer within %s (%v): start Docker, or fix DOCKER_HOST",
			shown, e.DockerTimeout, unwrapURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return credcheck.Disabled("Docker engine at %s answered the ping with HTTP %d", shown, resp.StatusCode)
	}
	detail := "engine at " + shown
	if v := resp.Header.Get("Api-Version"); v != "" {
		detail += fmt.Sprintf(" (API %s)", v)
	}
	return credcheck.Enabled(detail)
}

// dialDocker checks that a TLS engine's port accepts connections; verifying it would need its client
// certificates, which are the Docker client's business.
func dialDocker(ctx context.Context, e *credcheck.Env, addr, shown string) credcheck.Result {
	ctx, cancel := context.WithTimeout(ctx, e.DockerTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return credcheck.Disabled("Docker engine at %s is not reachable (%v): start Docker, or fix DOCKER_HOST", shown, err)
	}
	_ = conn.Close()
	return credcheck.Enabled("TLS engine at " + shown + " (port open; certificates not verified)")
}

// unwrapURL drops *url.Error's "Get \"http://docker/_ping\":" prefix, which names no real URL.
func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
