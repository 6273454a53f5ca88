package server_test

import (
	"os"
	"testing"

	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// The tests launch real local clusters (TestMetricsJobsOnARealCluster): a real stix-agent runs their nodes.
// The lease tests share one PostgreSQL server (pgtest), stopped after the tests.
func TestMain(m *testing.M) {
	code := testutil.RunWithAgent(m)
	pgtest.StopShared()
	os.Exit(code)
}
