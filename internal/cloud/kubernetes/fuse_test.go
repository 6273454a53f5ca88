package kubernetes

import (
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

// TestPodsCannotMountBuckets: the provider declares cloud.NoFUSE, so a launch with MOUNT or MOUNT_CACHED buckets
// never provisions pods here (the cluster manager refuses the offer before the provider is asked, and fails over
// or says why); the reason names what pods lack. No Kubernetes plane is needed: nothing is provisioned.
func TestPodsCannotMountBuckets(t *testing.T) {
	t.Parallel()
	var p cloud.Provider = New(Options{Home: t.TempDir()})
	nf, ok := p.(cloud.NoFUSE)
	if !ok {
		t.Fatal("the Kubernetes provider does not declare cloud.NoFUSE: a MOUNT task would provision pods that cannot mount")
	}
	if r := nf.NoFUSE(); !strings.Contains(r, "/dev/fuse") || !strings.Contains(r, "pods") {
		t.Errorf("NoFUSE() = %q; want the reason, naming pods and /dev/fuse", r)
	}
}
