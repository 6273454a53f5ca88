// Package leaseholder names the holders of the controllers' store leases (managed jobs, services) so that a
// controller restarted on the same host and server directory can tell its dead predecessor's leases from a live
// server's, and take them over at once instead of waiting for them to lapse.
package leaseholder

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/store"
)

// Prefix is shared by the controllers of one kind (e.g. "jobs") on this host over one server directory.
func Prefix(kind, dir string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s|%s|%s|", kind, host, dir)
}

// New names this process as a holder under prefix: its pid and start time (so that a reused pid is not taken for
// it), and a random part.
func New(prefix string) string {
	ticks, _ := proc.StartTicks(os.Getpid())
	return fmt.Sprintf("%s%d|%d|%s", prefix, os.Getpid(), ticks, api.NewRequestID())
}

// ReleaseIfDead frees the named lease when it is held under prefix by a process other than self that has
// exited (this server killed and restarted), and reports whether it did. A lease of another host, directory or
// live process is left alone.
func ReleaseIfDead(ctx context.Context, st store.Store, name, prefix, self string) bool {
	holder, err := store.LeaseHolder(ctx, st, name)
	rest, ok := strings.CutPrefix(holder, prefix)
	if err != nil || !ok || holder == self {
		return false
	}
	f := strings.Split(rest, "|")
	if len(f) < 2 {
		return false
	}
	pid, err1 := strconv.Atoi(f[0])
	ticks, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || proc.Alive(pid, ticks) {
		return false
	}
	return st.ReleaseLease(ctx, name, holder) == nil
}
