package server_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// The tests launch real local clusters (TestMetricsJobsOnARealCluster): a real stix-agent runs their nodes.
// The lease tests share one PostgreSQL server (pgtest), stopped after the tests. Run as
// `TESTBINARY serve-helper DIR HOME DB TTL`, the binary is instead a server process of its own (see
// serverProcess).
func TestMain(m *testing.M) {
	if len(os.Args) == 6 && os.Args[1] == serveHelper {
		os.Exit(serveAsHelper(os.Args[2], store.Location{Home: os.Args[3], DB: os.Args[4], DBOrigin: "the test"}, os.Args[5]))
	}
	if len(os.Args) == 3 && os.Args[1] == statusHelper {
		os.Exit(serveBlockingStatus(os.Args[2]))
	}
	code := testutil.RunWithAgent(m)
	pgtest.StopShared()
	os.Exit(code)
}

const serveHelper = "serve-helper"

// serveAsHelper serves the API over dir on a free loopback port, recording in loc, with a core whose calls
// block until the process is killed.
func serveAsHelper(dir string, loc store.Location, ttl string) int {
	d, err := time.ParseDuration(ttl)
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		err = server.Run(ctx, server.RunOptions{Host: "127.0.0.1",
			Options: server.Options{Dir: dir, State: loc, LeaseTTL: d, Client: newCore()}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
