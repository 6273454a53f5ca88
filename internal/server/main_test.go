package server_test

import (
	"os"
	"testing"

	"github.com/stix-run/stix/internal/testutil"
)

// The tests launch real local clusters (TestMetricsJobsOnARealCluster): a real stix-agent runs their nodes.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithAgent(m)) }
