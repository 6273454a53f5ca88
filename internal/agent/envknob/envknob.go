// Package envknob declares, in one place, the environment variables that change the node agent's behaviour, each
// with a type and a description (Tailscale's envknob idea): code reads a knob, never os.Getenv with a literal.
package envknob

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

// Knob is one declared environment variable.
type Knob struct {
	Name string // e.g. STIX_FAKE_GPUS
	Doc  string // one line for docs/agent.md and `stix-agent knobs`
}

var (
	mu    sync.Mutex
	knobs = map[string]Knob{}
)

func register(name, doc string) Knob {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := knobs[name]; dup {
		// Declaring a knob twice is a programming error caught by every test run; keep the first.
		return knobs[name]
	}
	k := Knob{Name: name, Doc: doc}
	knobs[name] = k
	return k
}

// All returns every declared knob, sorted by name.
func All() []Knob {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Knob, 0, len(knobs))
	for _, k := range knobs {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// StringKnob is a knob whose value is used as text.
type StringKnob struct{ Knob }

// String declares a text knob.
func String(name, doc string) StringKnob { return StringKnob{register(name, doc)} }

// Get returns the variable's value ("" when unset).
func (k StringKnob) Get() string { return os.Getenv(k.Name) }

// DurationKnob is a knob holding a Go duration ("100ms", "1m").
type DurationKnob struct {
	Knob
	Default time.Duration
}

// Duration declares a duration knob with a default used when the variable is unset or empty.
func Duration(name, doc string, def time.Duration) DurationKnob {
	return DurationKnob{register(name, doc), def}
}

// Get returns the knob's duration, its default when unset, or an error naming the variable when the value is
// not a positive Go duration.
func (k DurationKnob) Get() (time.Duration, error) {
	v := os.Getenv(k.Name)
	if v == "" {
		return k.Default, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("environment variable %s=%q: want a positive duration such as 100ms or 1m", k.Name, v)
	}
	return d, nil
}

// The agent's knobs. Declared here, not in the packages that read them, so that the full list is in one file.
var (
	// FakeGPUs makes fingerprint.Detect report GPUs that are not there, for tests: "H100:8" or "T4:1,L4:2".
	FakeGPUs = String("STIX_FAKE_GPUS",
		`report fake GPUs instead of asking nvidia-smi, e.g. "H100:8" (tests)`)
	// IdleUnit is the length of one autostop "minute"; tests shorten it to e.g. 100ms.
	IdleUnit = Duration("STIX_IDLE_UNIT",
		"length of one autostop idle minute (default 1m; tests use e.g. 100ms); --idle-unit wins", time.Minute)
	// TestClock names a file that drives the autostop clock, for end-to-end tests (agent.newFileClock).
	TestClock = String("STIX_TEST_CLOCK",
		"tests: a file holding a duration (\"5m\"); the agent's autostop clock is its start time plus it, and moves only when the file does")
	// AgentTimeout bounds every call to an agent (the CLI's to the head, the head's to the workers).
	AgentTimeout = Duration("STIX_AGENT_TIMEOUT",
		"deadline of a quick call to a node agent, and the liveness check interval of long ones such as logs -f (default 10s)",
		10*time.Second)
	// LocalConfine "0" turns off the mount namespace that hides $STIX_HOME from local jobs; read by the stix CLI.
	LocalConfine = String("STIX_LOCAL_CONFINE",
		"stix CLI: 0 runs local jobs unconfined (they see all of $STIX_HOME; sudo works again for non-root users); default confined")
	// CrashAt makes the stix process kill itself (SIGKILL) at a named point of a launch, so that tests can
	// check what an interrupted launch leaves behind; read by the stix CLI, not the agent.
	CrashAt = String("STIX_TEST_CRASH_AT",
		"stix CLI: SIGKILL itself at the named launch point: launch:init-recorded, launch:nodes-started, launch:configured (tests)")
	// KubernetesPodHomes gives Kubernetes pods homes under a directory of this machine, for test planes whose
	// fake kubelet (kwok) runs every pod's exec here; read by the stix CLI.
	KubernetesPodHomes = String("STIX_TEST_K8S_POD_HOMES",
		"stix CLI: each Kubernetes pod's home is DIR/<pod> on this machine, not its $HOME (tests on kwok, whose pods all exec on one host)")
)

// Bucket mounts (internal/agent/mounts.go, docs/storage-mounts.md).
var (
	// FuseDevice is the FUSE device the mount capability probe looks for; tests point it at a missing path.
	FuseDevice = String("STIX_FUSE_DEVICE",
		"the FUSE device the agent's mount capability probe checks (default /dev/fuse; tests point it elsewhere)")
	// MountFlushTimeout bounds the wait for a MOUNT_CACHED mount's uploads before a job is reported finished.
	MountFlushTimeout = Duration("STIX_MOUNT_FLUSH_TIMEOUT",
		"how long a node waits for a MOUNT_CACHED mount's uploads (job end, stop, down) before it reports a flush failure (default 10m)",
		10*time.Minute)
)
