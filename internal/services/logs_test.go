package services

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// syncBuffer collects what a follower writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// until polls cond for up to a minute.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRotatingLogFollowed: a log past its limit starts again (the previous part kept as .1, never more), a
// follower goes on across each rotation without losing a line, and a tail reaches into the previous part.
func TestRotatingLogFollowed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc", "load_balancer.log")
	f, err := openRotating(path, 110)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := func(i int) string { return fmt.Sprintf("line %02d of the load balancer's log\n", i) } // 35 bytes: three to a part
	for i := range 3 {
		fmt.Fprint(f, line(i))
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	var gone sync.Mutex
	isGone := false
	done := make(chan error, 1)
	go func() {
		done <- followLog(ctx, path, 0, true, func() bool { gone.Lock(); defer gone.Unlock(); return isGone }, &out)
	}()
	until(t, "the first lines followed", func() bool { return strings.Count(out.String(), "\n") == 3 })
	// One rotation at a time between two looks of the follower (a real log rotates every MiB).
	for _, batch := range [][2]int{{3, 6}, {6, 9}, {9, 10}} {
		for i := batch[0]; i < batch[1]; i++ {
			fmt.Fprint(f, line(i))
		}
		until(t, fmt.Sprintf("lines up to %d followed across a rotation", batch[1]-1), func() bool {
			return strings.Count(out.String(), "\n") == batch[1]
		})
	}
	gone.Lock()
	isGone = true
	gone.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the follower did not end once the writer was gone")
	}
	cancel()
	var want strings.Builder
	for i := range 10 {
		want.WriteString(line(i))
	}
	if out.String() != want.String() {
		t.Errorf("followed:\n%s\nwant:\n%s", out.String(), want.String())
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("more than one previous part kept")
	}
	if cur, _ := os.ReadFile(path); len(cur) > 110 {
		t.Errorf("the current part holds %d bytes, past the limit", len(cur))
	}
	var tail syncBuffer
	if err := followLog(context.Background(), path, 4, false, nil, &tail); err != nil {
		t.Fatal(err)
	}
	if want := line(6) + line(7) + line(8) + line(9); tail.String() != want {
		t.Errorf("--tail 4: %q, want %q", tail.String(), want)
	}
}

// TestServiceLogsAndReplicaDown, with a real service on local infra: the load balancer's log, followed, shows
// its replica set as it changes; `serve down --replica-id` takes the replica out, tears its cluster down,
// forgets it, and the autoscaler launches a replacement; --tail cuts every log; the followers end when the
// service is torn down.
func TestServiceLogsAndReplicaDown(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	res, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(dir, 2)}}))
	if err != nil {
		t.Fatal(err)
	}
	var lbLog, ctlLog syncBuffer
	followers := make(chan error, 2)
	go func() {
		followers <- w.ctl.ServeLogs(ctx, "web", api.ServeLogsOptions{LoadBalancer: true, Follow: true}, &lbLog)
	}()
	go func() {
		followers <- w.ctl.ServeLogs(ctx, "web", api.ServeLogsOptions{Controller: true, Follow: true}, &ctlLog)
	}()
	s := waitFor(t, w, "web", "READY with 2 ready replicas", func(s api.Service) bool {
		return s.Status == api.ServiceReady && len(readyReplicas(s)) == 2
	})
	get(t, res.Endpoint)
	until(t, "the load balancer's log shows both replicas", func() bool {
		return strings.Contains(lbLog.String(), fmt.Sprintf("1=%s 2=%s", s.Replicas[0].Endpoint, s.Replicas[1].Endpoint))
	})
	if !strings.Contains(lbLog.String(), "load balancer started") {
		t.Errorf("load balancer log:\n%s", lbLog.String())
	}

	// Bad input first: nothing changes.
	for _, req := range []api.ServeDownRequest{
		{Names: []string{"web"}, ReplicaID: 9},
		{Names: []string{"web", "other"}, ReplicaID: 1},
		{Names: []string{"nope"}, ReplicaID: 1},
	} {
		if _, err := w.ctl.ServeDown(ctx, req); err == nil {
			t.Errorf("serve down %+v: no error", req)
		}
	}
	out, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}, ReplicaID: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Message != "replica 1 terminated" {
		t.Fatalf("serve down --replica-id 1: %+v", out)
	}
	if cs, _ := w.core.Status(ctx, []string{"web-1"}, false); len(cs) != 0 {
		t.Fatalf("replica 1's cluster after --replica-id: %+v", cs)
	}
	s = waitFor(t, w, "web", "replica 1 replaced by 3", func(s api.Service) bool {
		ready := readyReplicas(s)
		return len(s.Replicas) == 2 && len(ready) == 2 && ready[0] == 2 && ready[1] == 3
	})
	for range 10 {
		if id := get(t, res.Endpoint); id == 1 {
			t.Fatal("replica 1 answered after it was terminated")
		}
	}
	until(t, "the load balancer's log shows the new set", func() bool {
		return strings.Contains(lbLog.String(), "replicas=\"2="+s.Replicas[0].Endpoint+"\"") &&
			strings.Contains(lbLog.String(), fmt.Sprintf("2=%s 3=%s", s.Replicas[0].Endpoint, s.Replicas[1].Endpoint))
	})
	if !strings.Contains(ctlLog.String(), "replica 1: terminated by the user") {
		t.Errorf("controller log:\n%s", ctlLog.String())
	}

	// --tail on every target.
	for _, o := range []api.ServeLogsOptions{{Controller: true, Tail: 2}, {LoadBalancer: true, Tail: 2}, {ReplicaID: 2, Tail: 2}} {
		var b strings.Builder
		if err := w.ctl.ServeLogs(ctx, "web", o, &b); err != nil {
			t.Fatalf("logs %+v: %v", o, err)
		}
		if n := strings.Count(strings.TrimSuffix(b.String(), "\n"), "\n") + 1; n > 2 || b.Len() == 0 {
			t.Errorf("logs %+v: %d lines:\n%s", o, n, b.String())
		}
	}
	var b strings.Builder
	if err := w.ctl.ServeLogs(ctx, "web", api.ServeLogsOptions{ReplicaID: 1}, &b); err == nil || !strings.Contains(err.Error(), "no replica 1") {
		t.Errorf("logs of the terminated replica: %v", err)
	}

	if _, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}})); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-followers:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a follower did not end with the service")
		}
	}
	if !strings.Contains(lbLog.String(), "load balancer stopped") {
		t.Errorf("load balancer log at the end:\n%s", lbLog.String())
	}
}
