package stix_test

import (
	"slices"
	"strings"
	"testing"
)

// Autodown on Lambda and RunPod: nothing a node does to itself ends its billing there, so the head agent, idle,
// sends the terminate (Lambda) or delete (RunPod) request the client gave it with the API key, to the fake API
// it reaches over the netns bridge as a node reaches the cloud's. Plain autostop is refused with nothing made.

// waitGone waits until the fake reports nothing live, with no stix command run meanwhile: what ended the
// instances is the head's request.
func waitGone(t *testing.T, what string, live func() int) {
	t.Helper()
	if err := pollFunc(what+" to be ended by the head", func() (bool, error) { return live() == 0, nil }); err != nil {
		t.Fatal(err)
	}
}

// TestLambdaAutodown: `-i 1 --down` ends the instance through Lambda's terminate call, made by the head; status -r
// then forgets the cluster. `-i 1` alone is refused, naming --down, with no instance launched.
func TestLambdaAutodown(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	out, err := e.stix("launch", "-y", "-d", "-c", "la0", "--infra", "lambda", "--cpus", "4", "-i", "1", "echo no")
	if err == nil || !strings.Contains(out, "autostop without --down is not supported on Lambda") {
		t.Errorf("-i 1 without --down: err %v, want the refusal:\n%s", err, out)
	}
	if insts := e.lambda.Instances(); len(insts) != 0 {
		t.Errorf("the refused launch made instances: %+v", insts)
	}

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "la1", "--infra", "lambda", "--cpus", "4", "-i", "1", "--down", "echo ran")
	waitGone(t, "the Lambda instance", func() int {
		n := 0
		for _, in := range e.lambda.Instances() {
			if in.Status != "terminating" && in.Status != "terminated" {
				n++
			}
		}
		return n
	})
	if !slices.Contains(e.lambda.Calls(), "terminate") {
		t.Errorf("Lambda calls %v: no terminate", e.lambda.Calls())
	}
	if st, err := clusterStatus(e.stix, "la1"); err != nil || st != "gone" {
		t.Errorf("status -r after autodown: %s, %v; want the cluster gone", st, err)
	}
	if out := e.must("status"); strings.Contains(out, "la1") {
		t.Errorf("status still lists the cluster:\n%s", out)
	}
	if n, _ := e.lambda.Live(); n != 0 {
		t.Errorf("after autodown: %d instances left", n)
	}
}

// TestRunPodAutodown: `--down` deletes the pod through RunPod's API, called by the head; status -r then forgets
// the cluster. `-i 1` alone is refused with no pod made.
func TestRunPodAutodown(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	out, err := e.stix("launch", "-y", "-d", "-c", "ra0", "--infra", "runpod", "--cpus", "4", "-i", "1", "echo no")
	if err == nil || !strings.Contains(out, "autostop without --down is not supported on RunPod") {
		t.Errorf("-i 1 without --down: err %v, want the refusal:\n%s", err, out)
	}
	if pods := e.runpod.Pods(); len(pods) != 0 {
		t.Errorf("the refused launch made pods: %+v", pods)
	}

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "ra1", "--infra", "runpod", "--cpus", "4", "-i", "1", "--down", "echo ran")
	waitGone(t, "the pod", e.runpod.Live)
	if !slices.ContainsFunc(e.runpod.Calls(), func(c string) bool { return strings.HasPrefix(c, "delete ") }) {
		t.Errorf("RunPod calls %v: no delete", e.runpod.Calls())
	}
	if st, err := clusterStatus(e.stix, "ra1"); err != nil || st != "gone" {
		t.Errorf("status -r after autodown: %s, %v; want the cluster gone", st, err)
	}
	if out := e.must("status"); strings.Contains(out, "ra1") {
		t.Errorf("status still lists the cluster:\n%s", out)
	}
}
