package do

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Disk on DigitalOcean. A droplet's size fixes its own disk (the sizes API's `disk`, in GB). A `disk_size`
// larger than that disk gets, as SkyPilot gives every DO node, a block-storage volume of disk_size GB per node:
// created before the droplets (POST /v2/volumes, filesystem_type ext4, tagged with the cluster's tag) and
// attached in the droplet's create call (`volumes`), so that DigitalOcean formats it and mounts it on images
// that support its automatic mounting, at /mnt/<volume name with '-' as '_'> (volumeMount). Volumes are
// deleted after the droplets: DigitalOcean refuses (409) deleting a volume still attached, and detaches a
// deleted droplet's volumes a few seconds after the droplet goes.

// maxVolumeGB is DigitalOcean's largest volume: 16 TiB.
const maxVolumeGB = 16 * 1024

// volumeGB is the size of the volume each node gets for diskGB on a size whose own disk is sizeDisk GB: none (0)
// when the size's disk holds it.
func volumeGB(diskGB, sizeDisk int) int {
	if diskGB <= sizeDisk {
		return 0
	}
	return diskGB
}

// checkDiskSize refuses, before anything is made, a disk_size no volume can hold.
func checkDiskSize(place cloud.Place, diskGB int) error {
	if diskGB > maxVolumeGB {
		return &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf(
			"disk_size %d GB is larger than DigitalOcean's largest block-storage volume (%d GB, 16 TiB): ask for at most %d",
			diskGB, maxVolumeGB, maxVolumeGB)}
	}
	return nil
}

// volumeName names node rank's volume: DigitalOcean takes lowercase letters, digits and '-', at most 64, starting
// with a letter.
func volumeName(cluster string, rank int) string {
	n := "stix-" + vm.LowerName(dropletName(cluster, rank), "")
	if len(n) > 64 {
		sum := sha256.Sum256([]byte(n))
		n = n[:55] + "-" + hex.EncodeToString(sum[:4])
	}
	return n
}

// volumeMount is where DigitalOcean mounts a volume it formatted at creation.
func volumeMount(name string) string { return "/mnt/" + strings.ReplaceAll(name, "-", "_") }

type volume struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	SizeGigabytes int      `json:"size_gigabytes"`
	DropletIDs    []int    `json:"droplet_ids"`
	Tags          []string `json:"tags"`
	Region        struct {
		Slug string `json:"slug"`
	} `json:"region"`
}

// volumeRequest is POST /v2/volumes.
type volumeRequest struct {
	Name           string   `json:"name"`
	SizeGigabytes  int      `json:"size_gigabytes"`
	Region         string   `json:"region"`
	FilesystemType string   `json:"filesystem_type"`
	Tags           []string `json:"tags"`
}

func (c *client) createVolume(ctx context.Context, req volumeRequest) (volume, error) {
	var out struct {
		Volume volume `json:"volume"`
	}
	err := c.do(ctx, http.MethodPost, "/volumes", req, &out)
	return out.Volume, err
}

// taggedVolumes lists the volumes carrying tag: the list call filters by name and region only, so the tag is
// matched here, over every page of the account's volumes.
func (c *client) taggedVolumes(ctx context.Context, tag string) ([]volume, error) {
	const perPage = 200
	var all []volume
	for page := 1; ; page++ {
		var out struct {
			Volumes []volume `json:"volumes"`
		}
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/volumes?per_page=%d&page=%d", perPage, page), nil, &out); err != nil {
			return nil, err
		}
		for _, v := range out.Volumes {
			if slices.Contains(v.Tags, tag) {
				all = append(all, v)
			}
		}
		if len(out.Volumes) < perPage {
			return all, nil
		}
	}
}

func (c *client) deleteVolume(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/volumes/"+url.PathEscape(id), nil, nil)
}

// deleteVolumes deletes the volumes carrying tag, once their droplets are gone: a volume DigitalOcean still
// counts as attached (409) is tried again until it is detached, within the provider's wait.
func (p *Provider) deleteVolumes(ctx context.Context, c *client, place cloud.Place, tag string) error {
	return p.m.Poll(ctx, "volumes tagged "+tag+" are still attached, not deleted", func(ctx context.Context) (bool, error) {
		vs, err := c.taggedVolumes(ctx, tag)
		if err != nil {
			return false, classify("list volumes", place, err)
		}
		for _, v := range vs {
			switch err := c.deleteVolume(ctx, v.ID); {
			case err == nil || notFound(err):
			case conflict(err):
				return false, nil
			default:
				return false, classify("delete volume "+v.Name, place, err)
			}
		}
		return true, nil
	})
}

// conflict says whether err is DigitalOcean's 409 (a volume still attached).
func conflict(err error) bool {
	api, ok := err.(*apiError)
	return ok && api.Status == http.StatusConflict
}
