package fakedo

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
)

// Volume is one block-storage volume the fake keeps, as created (POST /v2/volumes): DigitalOcean's documented
// request fields name, size_gigabytes (1 to 16384), region, filesystem_type, tags. DropletIDs are the droplets
// it is attached to (at most one). A droplet deleted with a volume attached leaves it attached until
// DigitalOcean has detached it, as the real API does a few seconds later: the fake refuses the first DELETE
// of such a volume (409) and detaches it then.
type Volume struct {
	ID, Name, Region, FilesystemType string
	SizeGigabytes                    int
	Tags                             []string
	DropletIDs                       []int
	detaching                        bool
}

// The messages DigitalOcean answers volume calls with.
const (
	// VolumeAttached is the 409 (id conflict) of DELETE /v2/volumes/{id} while the volume is attached.
	VolumeAttached = "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting."
	// VolumeTooLarge is the 422 of a create call asking for more than 16 TiB (DigitalOcean documents the range,
	// 1 to 16384 GiB, not its message: this one is the fake's).
	VolumeTooLarge = "size_gigabytes must be between 1 and 16384"
)

// Volumes returns a copy of every volume left, in creation order.
func (s *Server) Volumes() []Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Volume, 0, len(s.volumes))
	for _, v := range s.volumes {
		c := *v
		c.Tags, c.DropletIDs = slices.Clone(v.Tags), slices.Clone(v.DropletIDs)
		out = append(out, c)
	}
	return out
}

var volumeNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

func volumeJSON(v *Volume) map[string]any {
	return map[string]any{"id": v.ID, "name": v.Name, "size_gigabytes": v.SizeGigabytes, "description": "",
		"droplet_ids": append([]int{}, v.DropletIDs...), "tags": v.Tags, "filesystem_type": v.FilesystemType,
		"filesystem_label": "", "created_at": "2026-01-01T00:00:00Z",
		"region": map[string]any{"slug": v.Region, "name": v.Region, "available": true}}
}

// routeVolumes serves GET (paged by per_page and page) and POST /volumes, GET and DELETE /volumes/{id}; the
// caller holds mu.
func (s *Server) routeVolumes(r *http.Request, parts []string) (int, any, *apiError) {
	switch {
	case r.Method == http.MethodGet && len(parts) == 1:
		if e := s.injected("volumes", ""); e != nil {
			return 0, nil, e
		}
		name, region := r.URL.Query().Get("name"), r.URL.Query().Get("region")
		out := []map[string]any{}
		for _, v := range s.volumes {
			if (name == "" || v.Name == name) && (region == "" || v.Region == region) {
				out = append(out, volumeJSON(v))
			}
		}
		n := len(out)
		if pp, _ := strconv.Atoi(r.URL.Query().Get("per_page")); pp > 0 {
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			first := min(max(page-1, 0)*pp, n)
			out = out[first:min(first+pp, n)]
		}
		return 200, list("volumes", out, n), nil
	case r.Method == http.MethodPost && len(parts) == 1:
		var req struct {
			Name           string   `json:"name"`
			SizeGigabytes  int      `json:"size_gigabytes"`
			Region         string   `json:"region"`
			FilesystemType string   `json:"filesystem_type"`
			Tags           []string `json:"tags"`
		}
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		if e := s.injected("create-volume", req.Region); e != nil {
			return 0, nil, e
		}
		switch {
		case !volumeNameRE.MatchString(req.Name):
			return 0, nil, unprocessable("name must be lowercase letters, numbers and hyphens, start with a letter and be at most 64 characters")
		case req.SizeGigabytes < 1 || req.SizeGigabytes > 16384:
			return 0, nil, unprocessable(VolumeTooLarge)
		case req.Region == "":
			return 0, nil, unprocessable("region is required")
		case req.FilesystemType != "" && req.FilesystemType != "ext4" && req.FilesystemType != "xfs":
			return 0, nil, unprocessable("filesystem_type must be ext4 or xfs")
		case slices.ContainsFunc(s.volumes, func(v *Volume) bool { return v.Name == req.Name && v.Region == req.Region }):
			return 0, nil, &apiError{http.StatusConflict, "conflict", "a volume with that name already exists"}
		}
		s.seq++
		v := &Volume{ID: fmt.Sprintf("506f78a4-e098-11e5-ad9f-%012d", s.seq), Name: req.Name, Region: req.Region,
			FilesystemType: req.FilesystemType, SizeGigabytes: req.SizeGigabytes, Tags: req.Tags}
		s.volumes = append(s.volumes, v)
		return http.StatusCreated, map[string]any{"volume": volumeJSON(v)}, nil
	case len(parts) == 2 && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		i := slices.IndexFunc(s.volumes, func(v *Volume) bool { return v.ID == parts[1] })
		if r.Method == http.MethodGet {
			if i < 0 {
				return 0, nil, notFound()
			}
			return 200, map[string]any{"volume": volumeJSON(s.volumes[i])}, nil
		}
		if e := s.injected("delete-volume", ""); e != nil {
			return 0, nil, e
		}
		if i < 0 {
			return 0, nil, notFound()
		}
		if v := s.volumes[i]; len(v.DropletIDs) > 0 {
			if v.detaching { // its droplet is gone: detached from now on
				v.DropletIDs, v.detaching = nil, false
			}
			return 0, nil, &apiError{http.StatusConflict, "conflict", VolumeAttached}
		}
		s.volumes = slices.Delete(s.volumes, i, i+1)
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, &apiError{http.StatusNotFound, "not_found", "no route " + r.Method + " " + r.URL.Path + " (fakedo)"}
}

// attachable checks the create call's `volumes` (ids) for droplets in region: each exists there and is free,
// and only a single droplet may be created with volumes; the caller holds mu.
func (s *Server) attachable(ids []string, region string, droplets int) ([]*Volume, *apiError) {
	if len(ids) > 0 && droplets > 1 {
		return nil, unprocessable("Volumes can only be attached to a single Droplet: create the Droplets one at a time")
	}
	var out []*Volume
	for _, id := range ids {
		i := slices.IndexFunc(s.volumes, func(v *Volume) bool { return v.ID == id })
		switch {
		case i < 0:
			return nil, unprocessable("volume " + id + " could not be found")
		case s.volumes[i].Region != region:
			return nil, unprocessable("volume " + id + " is not in region " + region)
		case len(s.volumes[i].DropletIDs) > 0:
			return nil, unprocessable("volume " + id + " is already attached to droplet " + strconv.Itoa(s.volumes[i].DropletIDs[0]))
		}
		out = append(out, s.volumes[i])
	}
	return out, nil
}

// detachLater marks the volumes of deleted droplets as detaching; the caller holds mu.
func (s *Server) detachLater() {
	for _, v := range s.volumes {
		for _, id := range v.DropletIDs {
			if d := s.droplets[id]; d == nil || d.deleted {
				v.detaching = true
			}
		}
	}
}

// destroySelective is DELETE /droplets/{id}/destroy_with_associated_resources/selective: the droplet and the
// associated resources the body names (only volumes here), deleted together; 202 without a body. A volume not
// attached to the droplet is refused (422); the caller holds mu.
func (s *Server) destroySelective(r *http.Request, id string) (int, any, *apiError) {
	if e := s.injected("delete", ""); e != nil {
		return 0, nil, e
	}
	var req struct {
		Volumes []string `json:"volumes"`
	}
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	n, _ := strconv.Atoi(id)
	d := s.droplets[n]
	if d == nil || d.deleted {
		return 0, nil, notFound()
	}
	for _, vid := range req.Volumes {
		if !slices.ContainsFunc(s.volumes, func(v *Volume) bool { return v.ID == vid && slices.Contains(v.DropletIDs, n) }) {
			return 0, nil, unprocessable("volume " + vid + " is not associated with droplet " + id)
		}
	}
	s.powerOff(d)
	d.deleted = true
	s.volumes = slices.DeleteFunc(s.volumes, func(v *Volume) bool { return slices.Contains(req.Volumes, v.ID) })
	s.detachLater()
	return http.StatusAccepted, nil, nil
}
