package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// SkyServe's load-balancer ports: each service's load balancer takes the first free one.
const (
	PortRangeStart = 30001
	PortRangeEnd   = 30100
)

// PortInUseError is a load-balancer port that something else listens on.
type PortInUseError struct {
	Host string
	Port int
}

func (e *PortInUseError) Error() string {
	host := e.Host
	if host == "" {
		host = "all addresses"
	}
	return fmt.Sprintf("port %d is already in use on %s: stop what listens there, or serve on another port", e.Port, host)
}

// Listen opens a service's load-balancer port; a port already taken is a *PortInUseError.
func Listen(host string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &PortInUseError{Host: host, Port: port}
	}
	return ln, err
}

// ListenInRange opens the first free port in [lo, hi].
func ListenInRange(host string, lo, hi int) (net.Listener, error) {
	for p := lo; p <= hi; p++ {
		ln, err := Listen(host, p)
		var inUse *PortInUseError
		switch {
		case err == nil:
			return ln, nil
		case !errors.As(err, &inUse):
			return nil, err
		}
	}
	return nil, fmt.Errorf("every load-balancer port from %d to %d is in use: tear down a service (stix serve down) to free one", lo, hi)
}

// LoadTLS is the HTTPS configuration for service.tls (spec.TLS.CheckFiles reports bad files with their position
// in the YAML first).
func LoadTLS(certfile, keyfile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certfile, keyfile)
	if err != nil {
		return nil, fmt.Errorf("load the service's TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
