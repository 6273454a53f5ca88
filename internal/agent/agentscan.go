package agent

import (
	"os"
	"slices"
	"strconv"
)

// agentsServing returns the processes serving dir: the one in DIR/agent.pid and any other found in /proc, so
// that an agent whose pid file was lost or overwritten (two hosts sharing one home directory once did that) is
// stopped too, and a stop that claims success has left no agent behind.
func agentsServing(dir string) []int {
	var pids []int
	if pid, ok := agentPID(dir); ok {
		pids = append(pids, pid)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return pids
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self || slices.Contains(pids, pid) {
			continue
		}
		if servesDir(pid, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}
