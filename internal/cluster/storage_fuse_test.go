package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud/kubernetes"
	"github.com/stix-run/stix/internal/cloud/providers"
)

// TestStorageMountOnKubernetesRefused: a task that mounts a bucket (MOUNT, MOUNT_CACHED) and may only land on
// Kubernetes, named by its resources or as the one enabled infra, is refused before any bucket is made or pod
// provisioned (pods have no FUSE: cloud.NoFUSE), with what to do; COPY, or other infra to land on, is not.
func TestStorageMountOnKubernetesRefused(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	reg, err := providers.Build(providers.Config{Home: home}, kubernetes.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	enabled := []string{"kubernetes"}
	m, err := New(Options{Home: home, Registry: reg, User: "tester",
		EnabledInfra: func(context.Context) ([]string, error) { return enabled, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	for _, tc := range []struct{ yaml, want string }{
		{"resources:\n  infra: kubernetes\nfile_mounts:\n  ~/ckpt:\n    name: b\n    mode: MOUNT_CACHED\n",
			"file_mounts ~/ckpt (MOUNT_CACHED) needs FUSE, and no infra this task may use can mount buckets: Kubernetes nodes cannot mount buckets (its pods have no /dev/fuse"},
		{"file_mounts:\n  /data: \n    source: s3://b\n    mode: MOUNT\n", "file_mounts /data (MOUNT) needs FUSE"},
		{"file_mounts:\n  /data:\n    source: s3://b\n    mode: COPY\n", ""},
	} {
		err := m.refuseNoFUSE(ctx, task(t, tc.yaml))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "use `mode: COPY` there")) {
			t.Errorf("%q: %v; want %q", tc.yaml, err, tc.want)
		}
	}
	// Other infra enabled besides: the failover passes Kubernetes over (provisionOn), nothing is refused here.
	enabled = []string{"kubernetes", "local"}
	if err := m.refuseNoFUSE(ctx, task(t, "file_mounts:\n  /data:\n    source: s3://b\n")); err != nil {
		t.Errorf("with local enabled too: %v", err)
	}
}
