package dockerapi_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/testutil/dockertest"
)

// TestEvents follows the death and removal of one labelled container; another container's, killed first, is
// not among them, and the stream ends with its context.
func TestEvents(t *testing.T) {
	t.Parallel()
	cli := dockertest.Client(t)
	img := dockertest.NodeImage(t, cli)
	net := dockertest.Network(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tag := fmt.Sprintf("events-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	start := func(name string) string {
		init := true
		id, err := cli.ContainerCreate(ctx, "", dockerapi.ContainerConfig{Image: img, Cmd: []string{"sleep", "infinity"},
			Labels:     map[string]string{dockertest.Label: "1", "stix-events": name},
			HostConfig: dockerapi.HostConfig{Init: &init, NetworkMode: net}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.ContainerRemove(context.Background(), id, true, false) })
		if err := cli.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	watched, other := start(tag+"-a"), start(tag+"-b")

	wctx, stop := context.WithCancel(ctx)
	evs, err := cli.Events(wctx, dockerapi.EventFilter{Labels: []string{"stix-events=" + tag + "-a", dockertest.Label}, Actions: []string{"die", "destroy"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerRemove(ctx, other, true, false); err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerRemove(ctx, watched, true, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("the stream ended after %v", got)
			}
			if ev.ID != watched || ev.Attributes["stix-events"] != tag+"-a" || ev.Time.IsZero() {
				t.Errorf("event of another container, or without its labels: %+v", ev)
			}
			got = append(got, ev.Action)
		case <-ctx.Done():
			t.Fatalf("events so far %v: %v", got, ctx.Err())
		}
	}
	if got[0] != "die" || got[1] != "destroy" {
		t.Errorf("events %v, want [die destroy]", got)
	}
	stop()
	for range evs {
	}
}
