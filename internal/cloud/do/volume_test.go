package do

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/testutil/fakedo"
)

// TestVolumeRule: a disk_size the size's own disk holds gets no volume; a larger one a volume of disk_size GB
// per node (as SkyPilot sizes it). Volume names are DigitalOcean's (lowercase, digits, '-', at most 64,
// starting with a letter) and DigitalOcean mounts them at /mnt with '-' made '_'.
func TestVolumeRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ disk, sizeDisk, want int }{{100, 160, 0}, {160, 160, 0}, {500, 160, 500}, {256, 25, 256}} {
		if got := volumeGB(tc.disk, tc.sizeDisk); got != tc.want {
			t.Errorf("volumeGB(%d, %d) = %d, want %d", tc.disk, tc.sizeDisk, got, tc.want)
		}
	}
	for _, cluster := range []string{"c1", "My_Cluster.v2", strings.Repeat("long-name-", 10)} {
		n := volumeName(cluster, 3)
		if len(n) > 64 || n[0] < 'a' || n[0] > 'z' || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("volume name of %q: %q is not one DigitalOcean takes", cluster, n)
		}
	}
	if got := volumeMount("stix-c1-ab12-0"); got != "/mnt/stix_c1_ab12_0" {
		t.Errorf("mount point %q", got)
	}
}

// TestDiskSizeBeyondVolumes: a disk_size larger than DigitalOcean's largest volume (16 TiB) is refused before
// any call, as invalid configuration, saying the limit.
func TestDiskSizeBeyondVolumes(t *testing.T) {
	p, fake := newTest(t)
	req := launchReq("nyc1")
	req.Requirements.DiskSizeGB = 20000
	_, err := p.Provision(context.Background(), req)
	var bad *cloud.InvalidConfigError
	if !errors.As(err, &bad) || cloud.ScopeOf(err).Level != cloud.LevelCloud || !strings.Contains(err.Error(), "16384") || !strings.Contains(err.Error(), "disk_size 20000") {
		t.Fatalf("Provision = %v, want an *InvalidConfigError of DO naming the 16384 GB limit", err)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("calls %v: want none", calls)
	}
	if d, fw, keys := fake.Live(); d != 0 || fw != 0 || keys != 0 || len(fake.Volumes()) != 0 {
		t.Errorf("left behind: %d droplets, %d firewalls, %d keys, volumes %+v", d, fw, keys, fake.Volumes())
	}
}

// TestVolumeLaunchFailures: a launch that fails once volumes are made leaves none: not when the volume call
// fails, nor the droplets' create call, nor the second droplet's after the first was made with its volume
// attached (DigitalOcean refuses deleting that volume until it has detached it: the cleanup waits).
func TestVolumeLaunchFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(*fakedo.Server)
		as     any
		says   string
	}{
		{name: "volume refused", script: func(f *fakedo.Server) {
			f.Fail("create-volume", "", http.StatusUnprocessableEntity, "unprocessable_entity", "creating this volume will exceed your volume limit")
		}, as: new(*cloud.InvalidConfigError), says: "volume limit"},
		{name: "second volume refused", script: func(f *fakedo.Server) {
			f.FailAfter(1, "create-volume", "", http.StatusInternalServerError, "server_error", "Server Error")
		}, says: "Server Error"},
		{name: "droplet refused", script: func(f *fakedo.Server) {
			f.Fail("create", "nyc1", http.StatusUnprocessableEntity, "unprocessable_entity", fakedo.SizeUnavailable)
		}, as: new(*cloud.CapacityError), says: fakedo.SizeUnavailable},
		{name: "second droplet refused", script: func(f *fakedo.Server) {
			f.FailAfter(1, "create", "nyc1", http.StatusUnprocessableEntity, "unprocessable_entity", fakedo.SizeUnavailable)
		}, as: new(*cloud.CapacityError), says: fakedo.SizeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newTest(t)
			tc.script(fake)
			req := launchReq("nyc1")
			req.Requirements.DiskSizeGB = 500
			_, err := p.Provision(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tc.says) || (tc.as != nil && !errors.As(err, tc.as)) {
				t.Fatalf("Provision = %v, want %T saying %q", err, tc.as, tc.says)
			}
			if strings.Contains(err.Error(), "cleaning up") {
				t.Errorf("the cleanup failed: %v", err)
			}
			if d, fw, keys := fake.Live(); d != 0 || fw != 0 || keys != 0 || len(fake.Volumes()) != 0 {
				t.Errorf("left behind: %d droplets, %d firewalls, %d keys, volumes %+v", d, fw, keys, fake.Volumes())
			}
			if _, err := os.Stat(p.m.StatePath("c1")); !os.IsNotExist(err) {
				t.Errorf("stix kept state of the failed cluster: %v", err)
			}
		})
	}
}

// TestVolumesFoundByTag: the volumes of a cluster whose droplets are gone (autodown deleted them) are deleted
// by `status -r` (Query) from the record's handle alone, once DigitalOcean has detached them; Terminate with no
// record at all finds them by the cluster's tag too, and never another cluster's.
func TestVolumesFoundByTag(t *testing.T) {
	p, fake := newTest(t)
	ctx := context.Background()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(cluster string) int {
		v, err := c.createVolume(ctx, volumeRequest{Name: volumeName(cluster, 0), SizeGigabytes: 500, Region: "nyc1", FilesystemType: "ext4", Tags: []string{clusterTag(cluster)}})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := c.create(ctx, createRequest{Name: dropletName(cluster, 0), Region: "nyc1", Size: "s-4vcpu-8gb",
			Image: "ubuntu-22-04-x64", Tags: []string{clusterTag(cluster)}, Volumes: []string{v.ID}})
		if err != nil || len(ds) != 1 {
			t.Fatal(ds, err)
		}
		return ds[0].ID
	}
	id := mk("c1")
	mk("c2")
	if vs := fake.Volumes(); len(vs) != 2 || len(vs[0].DropletIDs) != 1 || vs[0].DropletIDs[0] != id || vs[0].FilesystemType != "ext4" {
		t.Fatalf("volumes %+v: want c1's attached to droplet %d", vs, id)
	}
	if err := c.deleteTagged(ctx, clusterTag("c1")); err != nil { // what autodown's head does
		t.Fatal(err)
	}
	h, _ := json.Marshal(handle{Cluster: "c1", Region: "nyc1", DropletIDs: []int{id}})
	states, err := p.Query(ctx, cloud.ClusterRef{Name: "c1", Handle: h})
	if err != nil || len(states) != 1 || states[0].Status != cloud.NodeMissing {
		t.Fatalf("query c1: %+v, %v", states, err)
	}
	if vs := fake.Volumes(); len(vs) != 1 || !strings.Contains(vs[0].Name, "c2") {
		t.Fatalf("volumes after status -r of c1: %+v, want only c2's", vs)
	}
	if err := p.Terminate(ctx, cloud.ClusterRef{Name: "c2"}); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := fake.Live(); d != 0 || len(fake.Volumes()) != 0 {
		t.Errorf("after terminate: %d droplets, volumes %+v", d, fake.Volumes())
	}
}

// TestFakeVolumeRules: the fake answers as DigitalOcean documents: an attached volume is not deleted (409), a
// volume over 16 TiB is refused (422), volumes attach only to a droplet created alone.
func TestFakeVolumeRules(t *testing.T) {
	_, fake := newTest(t)
	ctx := context.Background()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	var api *apiError
	if _, err := c.createVolume(ctx, volumeRequest{Name: "big", SizeGigabytes: 16385, Region: "nyc1", FilesystemType: "ext4"}); !errors.As(err, &api) || api.Status != 422 {
		t.Errorf("a 16385 GB volume: %v, want a 422", err)
	}
	v, err := c.createVolume(ctx, volumeRequest{Name: "v1", SizeGigabytes: 10, Region: "nyc1", FilesystemType: "ext4", Tags: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.create(ctx, createRequest{Names: []string{"a", "b"}, Region: "nyc1", Size: "s-4vcpu-8gb", Image: "ubuntu-22-04-x64", Volumes: []string{v.ID}}); !errors.As(err, &api) || api.Status != 422 {
		t.Errorf("volumes for two droplets: %v, want a 422", err)
	}
	if _, err := c.create(ctx, createRequest{Name: "a", Region: "nyc1", Size: "s-4vcpu-8gb", Image: "ubuntu-22-04-x64", Tags: []string{"t"}, Volumes: []string{v.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := c.deleteVolume(ctx, v.ID); !conflict(err) || !strings.Contains(err.Error(), fakedo.VolumeAttached) {
		t.Errorf("deleting an attached volume: %v, want DigitalOcean's 409", err)
	}
	if len(fake.Volumes()) != 1 {
		t.Errorf("volumes %+v", fake.Volumes())
	}
}

// TestTaggedVolumesPaged: the cluster's volumes are found past the first page of the account's volumes.
func TestTaggedVolumesPaged(t *testing.T) {
	newTest(t)
	ctx := context.Background()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 201 {
		tag := "other"
		if i == 200 {
			tag = clusterTag("c1")
		}
		if _, err := c.createVolume(ctx, volumeRequest{Name: "v" + strconv.Itoa(i), SizeGigabytes: 1, Region: "nyc1", Tags: []string{tag}}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := c.taggedVolumes(ctx, clusterTag("c1"))
	if err != nil || len(vs) != 1 || vs[0].Name != "v200" {
		t.Errorf("tagged volumes %+v, %v: want v200, on the second page", vs, err)
	}
}
