package agent

import (
	"fmt"
	"io"
	"net"
	"time"
)

// dialCommand is `stix-agent dial HOST:PORT`: the far end of a tunnel through a transport that can only run
// commands (a Kubernetes exec). It connects to the address and copies stdin to the connection and the
// connection to stdout until either side ends.
func dialCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: stix-agent dial HOST:PORT")
		return 2
	}
	c, err := net.DialTimeout("tcp", args[0], 30*time.Second)
	if err != nil {
		fmt.Fprintln(stderr, "stix-agent dial:", err)
		return 1
	}
	defer c.Close()
	go func() {
		io.Copy(c, stdin)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	// The connection's end (the server closed it) ends the tunnel; stdin's end only half-closes it.
	io.Copy(stdout, c)
	return 0
}
