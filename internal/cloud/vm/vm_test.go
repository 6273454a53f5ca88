package vm

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud"
)

func TestStateRoundTripAndForget(t *testing.T) {
	t.Parallel()
	m := &Machines{Cloud: "gcp", Root: t.TempDir()}
	type st struct {
		Zone string `json:"zone"`
		Cluster
	}
	var got st
	if ok, err := m.ReadState("c", &got); ok || err != nil {
		t.Fatalf("ReadState of no cluster = %v, %v", ok, err)
	}
	c, err := NewCluster("c", "")
	if err != nil || c.Secret == "" || !strings.Contains(c.CACert, "CERTIFICATE") {
		t.Fatalf("NewCluster = %+v, %v", c, err)
	}
	if err := m.WriteState("c", &st{Zone: "z", Cluster: c}); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.ReadState("c", &got); !ok || err != nil || got.Zone != "z" || got.Secret != c.Secret {
		t.Fatalf("ReadState = %v, %v, %+v", ok, err, got)
	}
	if err := m.Forget("c"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.ReadState("c", &got); ok {
		t.Fatal("state left after Forget")
	}
	if err := m.Forget("c"); err != nil {
		t.Fatalf("Forget of a forgotten cluster: %v", err)
	}
}

func TestParsePorts(t *testing.T) {
	t.Parallel()
	m := &Machines{Cloud: "gcp"}
	got, err := m.ParsePorts([]string{"8080", " 10000-10010"})
	if err != nil || len(got) != 2 || got[0].String() != "8080" || got[1].String() != "10000-10010" {
		t.Fatalf("ParsePorts = %v, %v", got, err)
	}
	for _, bad := range []string{"0", "65536", "9-8", "x", "1-"} {
		_, err := m.ParsePorts([]string{bad})
		var inv *cloud.InvalidConfigError
		if !errors.As(err, &inv) {
			t.Errorf("ParsePorts(%q) = %v, want an InvalidConfigError", bad, err)
		}
	}
}

func TestBackoffDoublesUpToPollInterval(t *testing.T) {
	t.Parallel()
	next := (&Machines{PollInterval: 300 * time.Millisecond}).Backoff()
	var got []time.Duration
	for range 4 {
		got = append(got, next())
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits = %v, want %v", got, want)
		}
	}
}

func TestPollStopsOnDoneErrorAndDeadline(t *testing.T) {
	t.Parallel()
	m := &Machines{PollInterval: time.Millisecond, WaitTimeout: time.Minute}
	n := 0
	if err := m.Poll(context.Background(), "x", func(context.Context) (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Fatalf("Poll = %v after %d checks", err, n)
	}
	boom := errors.New("boom")
	if err := m.Poll(context.Background(), "x", func(context.Context) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("Poll = %v, want boom", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.Poll(ctx, "instances are not running", func(context.Context) (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "instances are not running after 1m0s") {
		t.Fatalf("Poll past its deadline = %v", err)
	}
}

func TestTransportRefusesBadHandle(t *testing.T) {
	t.Parallel()
	m := &Machines{Cloud: "gcp", Root: t.TempDir()}
	info := &cloud.ClusterInfo{Nodes: []cloud.NodeInfo{{}}, Handle: []byte(`{"cluster":"../x"}`)}
	if _, err := m.Transport(context.Background(), info, 0); err == nil || !strings.Contains(err.Error(), "malformed handle") {
		t.Fatalf("Transport = %v", err)
	}
	if _, err := m.Transport(context.Background(), info, 1); err == nil {
		t.Fatal("Transport to rank 1 of 1 node succeeded")
	}
}

func TestPrepareFindsTheAgentBeforeMakingTheKey(t *testing.T) {
	t.Parallel()
	noAgent := errors.New("no stix-agent")
	m := &Machines{Cloud: "aws", Root: t.TempDir(), AgentBinary: func() (string, error) { return "", noAgent }}
	if _, err := m.Prepare(); !errors.Is(err, noAgent) {
		t.Fatalf("Prepare without an agent = %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.Root, "ssh", "stix-key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a key was made though the agent is missing: %v", err)
	}
	m.AgentBinary = func() (string, error) { return "/bin/true", nil }
	pub, err := m.Prepare()
	if err != nil || !strings.HasPrefix(string(pub), "ssh-ed25519 ") {
		t.Fatalf("Prepare = %q, %v", pub, err)
	}
	if _, again, err := m.LocalKey(); err != nil || string(again) != string(pub) {
		t.Fatalf("LocalKey after Prepare = %q, %v; want the same key %q", again, err, pub)
	}
}

func TestLowerName(t *testing.T) {
	for _, tc := range []struct{ in, keep, want string }{
		{"My.Cluster_1", "", "my-cluster-1"},
		{"My.Cluster_1", "_", "my-cluster_1"},
		{"a-b9", "", "a-b9"},
		{"ünï", "", "-n-"},
	} {
		if got := LowerName(tc.in, tc.keep); got != tc.want {
			t.Errorf("LowerName(%q, %q) = %q, want %q", tc.in, tc.keep, got, tc.want)
		}
	}
}
