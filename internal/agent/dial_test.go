package agent

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// The relay carries a request to a TCP server and its answer back, and ends when the server closes.
func TestDialRelaysBothWays(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c) // until the relay half-closes at the end of its input
		c.Write(append([]byte("echo:"), b...))
		c.Close()
	}()
	var out, errOut bytes.Buffer
	if code := dialCommand([]string{l.Addr().String()}, strings.NewReader("ping"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if out.String() != "echo:ping" {
		t.Fatalf("relayed %q; want echo:ping", out.String())
	}
	if code := dialCommand([]string{"127.0.0.1:1"}, strings.NewReader(""), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "stix-agent dial") {
		t.Fatalf("dial to a closed port: exit %d, %q", code, errOut.String())
	}
}
