package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/local"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

// noSelfStop is a real provider without its autostop capability: embedding the interface hides the optional
// methods, as on infra whose nodes cannot stop themselves.
type noSelfStop struct{ cloud.Provider }

// Autostop (-i, --down, resources.autostop) on infra that cannot carry it out is refused before anything is
// made or changed, with a message that says what to do.
func TestAutostopRefusedWhereNodesCannotStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	lp, err := local.New(local.Options{Root: filepath.Join(home, "local"),
		AgentBinary: func() (string, error) { return "", errors.New("this test starts no agent") }})
	if err != nil {
		t.Fatal(err)
	}
	reg := cloud.NewRegistry()
	if err := reg.Add(local.Descriptor, noSelfStop{lp}); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Home: home, Registry: reg,
		EnabledInfra: func(context.Context) ([]string, error) { return []string{"local"}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })

	five := 5
	withAutostop := spec.FromCommand("echo hi")
	withAutostop.Resources.Autostop = &spec.AutostopConfig{Enabled: true, IdleMinutes: 10}
	for _, tc := range []struct {
		name string
		task *spec.Task
		opts api.LaunchOptions
	}{
		{"-i", spec.FromCommand("echo hi"), api.LaunchOptions{IdleMinutes: &five}},
		{"--down", spec.FromCommand("echo hi"), api.LaunchOptions{Down: true}},
		{"resources.autostop", withAutostop, api.LaunchOptions{}},
	} {
		tc.opts.ClusterName = "c"
		// Failover tries the other candidates; the table of failures says why this one was refused.
		_, err := m.Launch(ctx, tc.task, tc.opts)
		if err == nil || !strings.Contains(err.Error(), "autostop is not supported on Local") ||
			!strings.Contains(err.Error(), "launch without -i/--down") {
			t.Errorf("%s: launch error = %v, want the refusal", tc.name, err)
		}
	}
	if cs, err := m.Status(ctx, nil, false); err != nil || len(cs) != 0 {
		t.Errorf("clusters after the refused launches: %+v, %v", cs, err)
	}
	if _, err := os.Stat(filepath.Join(home, "local", "c")); !os.IsNotExist(err) {
		t.Errorf("a refused launch made the cluster's directory: %v", err)
	}

	// `stix autostop` on an existing cluster: refused, its setting unchanged.
	st, err := m.store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := &store.Cluster{Name: "up", Status: store.StatusUp, Cloud: "local", NumNodes: 1,
		Autostop: store.Autostop{IdleMinutes: store.AutostopOff}}
	if err := st.PutCluster(ctx, rec); err != nil {
		t.Fatal(err)
	}
	err = m.Autostop(ctx, "up", api.AutostopOptions{IdleMinutes: 5, Down: true})
	var ue *AutostopUnsupportedError
	if !errors.As(err, &ue) {
		t.Errorf("autostop error = %v, want an AutostopUnsupportedError", err)
	}
	if got, err := st.GetCluster(ctx, "up"); err != nil || got.Autostop.IdleMinutes != store.AutostopOff {
		t.Errorf("record after the refused autostop = %+v, %v", got, err)
	}
}
