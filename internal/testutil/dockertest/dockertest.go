// Package dockertest starts what tests need on the Docker Engine of this machine: a client, the node image, a
// network and containers, each labelled stix-test=1 and removed when the test ends.
package dockertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	stixdocker "github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/dockerapi"
)

// Label marks every object a test creates, so that leftovers of a killed test run can be found and removed:
// docker rm -f $(docker ps -aq --filter label=stix-test=1).
const Label = "stix-test"

// ImageRef is the node image tests use: built once per engine and input hash, like the real one.
const ImageRef = "stix/node:test"

// Client returns a client of the engine DOCKER_HOST (or /var/run/docker.sock) names. When no engine answers,
// the test is skipped, unless STIX_REQUIRE_DOCKER=1 (set it where the engine must be there), which fails it.
func Client(t testing.TB) *dockerapi.Client {
	t.Helper()
	cli, err := dockerapi.FromEnv()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = cli.Ping(ctx)
		cancel()
	}
	if err != nil {
		msg := fmt.Sprintf("no Docker Engine reachable (%v): start one or set DOCKER_HOST", err)
		if os.Getenv("STIX_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// imageMu keeps parallel tests from importing the image twice at once.
var imageMu sync.Mutex

// NodeImage makes sure the engine has the node image and returns its reference.
func NodeImage(t testing.TB, cli *dockerapi.Client) string {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	if _, err := stixdocker.EnsureNodeImage(context.Background(), cli, ImageRef, ""); err != nil {
		t.Fatal(err)
	}
	return ImageRef
}

// Network creates a bridge network for the test and removes it at cleanup; it returns its name.
func Network(t testing.TB, cli *dockerapi.Client) string {
	t.Helper()
	name := "stix-test-" + sanitize(t.Name()) + fmt.Sprintf("-%d", time.Now().UnixNano()%1e9)
	ctx := context.Background()
	if err := cli.NetworkCreate(ctx, name, "bridge", map[string]string{Label: "1"}); err != nil {
		t.Fatalf("create docker network %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := cli.NetworkRemove(context.Background(), name); err != nil {
			t.Errorf("remove docker network %s: %v", name, err)
		}
	})
	return name
}

// Container creates and starts a container of image on network (idle: it sleeps) and force-removes it at
// cleanup, which runs before the network's because cleanups run last-in first-out. It returns its ID.
func Container(t testing.TB, cli *dockerapi.Client, image, net string) string {
	t.Helper()
	ctx := context.Background()
	id, err := cli.ContainerCreate(ctx, "", dockerapi.ContainerConfig{Image: image, Labels: map[string]string{Label: "1"},
		HostConfig: dockerapi.HostConfig{NetworkMode: net}})
	if err != nil {
		t.Fatalf("create container of %s: %v", image, err)
	}
	t.Cleanup(func() {
		if err := cli.ContainerRemove(context.Background(), id, true, false); err != nil {
			t.Errorf("remove container %s: %v", id, err)
		}
	})
	if err := cli.ContainerStart(ctx, id); err != nil {
		t.Fatalf("start container of %s: %v", image, err)
	}
	return id
}

func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToLower(s)
}
