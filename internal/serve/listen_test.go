package serve

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestListenPortInUse(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	_, err = Listen("127.0.0.1", port)
	var inUse *PortInUseError
	if !errors.As(err, &inUse) || inUse.Port != port || !strings.Contains(err.Error(), "is already in use on 127.0.0.1") {
		t.Fatalf("Listen on a taken port: %v", err)
	}
	ln, err := ListenInRange("127.0.0.1", port, port+20)
	if err != nil {
		t.Fatalf("ListenInRange: %v", err)
	}
	defer ln.Close()
	if got := ln.Addr().(*net.TCPAddr).Port; got <= port {
		t.Errorf("ListenInRange took port %d, the taken one is %d", got, port)
	}
	if _, err := ListenInRange("127.0.0.1", port, port); err == nil || !strings.Contains(err.Error(), "every load-balancer port") {
		t.Errorf("ListenInRange over taken ports only: %v", err)
	}
}
