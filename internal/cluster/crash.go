package cluster

import (
	"os"
	"syscall"

	"github.com/stix-run/stix/internal/agent/envknob"
)

// The points of a launch where a test may have the process killed (STIX_TEST_CRASH_AT), each a boundary
// between two recorded states; docs/lifecycle.md says what a launch interrupted there leaves behind.
const (
	crashInitRecorded = "launch:init-recorded" // the INIT record is written, the provider not yet asked
	crashNodesStarted = "launch:nodes-started" // the provider's nodes run, nothing of them is recorded
	crashConfigured   = "launch:configured"    // the head agent is configured, the record not yet UP
)

// crashPoint kills this process, as a power cut or `kill -9` would, when STIX_TEST_CRASH_AT names point.
func crashPoint(point string) {
	if envknob.CrashAt.Get() != point {
		return
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGKILL); err != nil {
		panic("STIX_TEST_CRASH_AT: " + err.Error())
	}
	select {} // the signal is on its way; nothing after this point may run
}
