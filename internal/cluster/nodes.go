package cluster

import "github.com/stix-run/stix/internal/transport"

// transportSyncOptions are SkyPilot's rules: the workdir honours .skyignore/.gitignore and mirrors deletions;
// a file mount is copied as it is.
func transportSyncOptions(workdir bool) transport.SyncOptions {
	return transport.SyncOptions{Delete: workdir, Ignore: workdir}
}
