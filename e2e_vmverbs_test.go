package stix_test

import (
	"strings"
	"testing"
)

// vmVerbs drives the verbs every VM cloud offers over cluster name, UP on infra with two nodes and port 8080,
// whose job printed logWant on rank 1: logs, exec, status --endpoints, check -v, status -r, stop (notStopped
// lists the cloud's machines that are not stopped), start, exec again, down (left then says what the cloud
// still holds) and cost-report.
func (e *awsEnv) vmVerbs(t *testing.T, infra, name, logWant string, notStopped func() []string, left func(after string)) {
	t.Helper()
	if out := e.must("logs", "--no-follow", name, "1"); !strings.Contains(out, logWant) {
		t.Errorf("logs %s 1 lacks %q:\n%s", name, logWant, out)
	}
	if out := e.must("exec", name, "echo exec on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "exec on 0") {
		t.Errorf("exec:\n%s", out)
	}
	if out := e.must("status", "--endpoints", name); !strings.HasPrefix(out, "8080: 10.231.") {
		t.Errorf("status --endpoints: %q, want port 8080 at the head's public address", out)
	}
	if out := e.must("check", "-v", infra); !strings.Contains(out, ": enabled") {
		t.Errorf("check -v %s:\n%s", infra, out)
	}
	if st, err := clusterStatus(e.stix, name); err != nil || st != "UP" {
		t.Errorf("status -r: %s, %v", st, err)
	}

	e.must("stop", "-y", name)
	if running := notStopped(); len(running) > 0 {
		t.Errorf("after stop, not stopped: %s", strings.Join(running, ", "))
	}
	if st, err := clusterStatus(e.stix, name); err != nil || st != "STOPPED" {
		t.Errorf("status -r after stop: %s, %v", st, err)
	}
	e.must("start", "-y", name)
	if out := e.must("queue", name); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("queue after start:\n%s", out)
	}
	if out := e.must("exec", name, "echo again on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "again on 0") {
		t.Errorf("exec after start:\n%s", out)
	}

	e.must("down", "-y", name)
	left("down")
	if out := e.must("cost-report"); !strings.Contains(out, name) {
		t.Errorf("cost-report lacks the %s cluster %s:\n%s", infra, name, out)
	}
}

// refused runs a stix command that must fail, printing all of wants; left then says what the cloud still holds.
// It returns the command's output.
func (e *awsEnv) refused(t *testing.T, what string, wants []string, left func(after string), args ...string) string {
	t.Helper()
	out, err := e.stix(args...)
	if err == nil {
		t.Errorf("%s: stix %s succeeded:\n%s", what, strings.Join(args, " "), out)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s: output lacks %q:\n%s", what, want, out)
		}
	}
	left(what)
	return out
}
