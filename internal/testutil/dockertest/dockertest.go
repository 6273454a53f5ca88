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

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	stixdocker "github.com/stix-run/stix/internal/cloud/docker"
)

// Label marks every object a test creates, so that leftovers of a killed test run can be found and removed:
// docker rm -f $(docker ps -aq --filter label=stix-test=1).
const Label = "stix-test"

// ImageRef is the node image tests use: built once per engine and input hash, like the real one.
const ImageRef = "stix/node:test"

// Client returns a client of the engine DOCKER_HOST (or /var/run/docker.sock) names. When no engine answers,
// the test is skipped, unless STIX_REQUIRE_DOCKER=1 (set it where the engine must be there), which fails it.
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx)
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
func NodeImage(t testing.TB, cli *client.Client) string {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	if _, err := stixdocker.EnsureNodeImage(context.Background(), cli, ImageRef); err != nil {
		t.Fatal(err)
	}
	return ImageRef
}

// Network creates a bridge network for the test and removes it at cleanup; it returns its name.
func Network(t testing.TB, cli *client.Client) string {
	t.Helper()
	name := "stix-test-" + sanitize(t.Name()) + fmt.Sprintf("-%d", time.Now().UnixNano()%1e9)
	ctx := context.Background()
	if _, err := cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: map[string]string{Label: "1"}}); err != nil {
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
func Container(t testing.TB, cli *client.Client, image, net string) string {
	t.Helper()
	ctx := context.Background()
	cfg := &container.Config{Image: image, Labels: map[string]string{Label: "1"}}
	host := &container.HostConfig{NetworkMode: container.NetworkMode(net)}
	c, err := cli.ContainerCreate(ctx, cfg, host, nil, nil, "")
	if err != nil {
		t.Fatalf("create container of %s: %v", image, err)
	}
	t.Cleanup(func() {
		if err := cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("remove container %s: %v", c.ID, err)
		}
	})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start container of %s: %v", image, err)
	}
	return c.ID
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
