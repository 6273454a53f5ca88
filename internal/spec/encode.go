package spec

import (
	"encoding/json"
	"fmt"
)

// YAMLConfig returns the task as the mapping a task file holds, in SkyPilot's shape (its Task.to_yaml_config):
// what a program outside stix, such as an admin policy server, expects to read; Load reads it back to the same
// task. Secrets keep their names and show Redacted as their values. Defaults the reader applied (num_nodes,
// disk size, service probes) are written out.
func (t *Task) YAMLConfig() (map[string]any, error) {
	m, err := plain(t)
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	if t.Workdir != nil {
		if t.Workdir.URL == "" {
			m["workdir"] = t.Workdir.Path
		}
	}
	if err := encodeResources(m, t.Resources); err != nil {
		return nil, err
	}
	for _, k := range []string{"inputs", "outputs"} {
		if d, ok := m[k].(map[string]any); ok {
			m[k] = map[string]any{fmt.Sprint(d["path"]): d["size_gb"]}
		}
	}
	if len(t.FileMounts) > 0 {
		mounts := make(map[string]any, len(t.FileMounts))
		for _, fm := range t.FileMounts {
			if fm.Storage == nil {
				mounts[fm.Dest] = fm.Source
				continue
			}
			s, err := plain(fm.Storage)
			if err != nil {
				return nil, fmt.Errorf("encode task: %w", err)
			}
			if src, ok := s["source"].([]any); ok && len(src) == 1 {
				s["source"] = src[0]
			}
			if s["name"] == nil && s["source"] == nil {
				s["name"] = nil // as written: the bucket's name is left to stix
			}
			mounts[fm.Dest] = s
		}
		m["file_mounts"] = mounts
	}
	if svc, ok := m["service"].(map[string]any); ok {
		policy := map[string]any{}
		for _, k := range []string{"min_replicas", "max_replicas", "target_qps_per_replica", "upscale_delay_seconds",
			"downscale_delay_seconds", "num_overprovision", "base_ondemand_fallback_replicas",
			"dynamic_ondemand_fallback", "spot_placer"} {
			if v, ok := svc[k]; ok {
				policy[k] = v
				delete(svc, k)
			}
		}
		if v, ok := svc["target_qps_per_accelerator"]; ok {
			policy["target_qps_per_replica"] = v // SkyPilot takes the per-accelerator form under the same key
			delete(svc, "target_qps_per_accelerator")
		}
		svc["replica_policy"] = policy
	}
	return m, nil
}

// encodeResources sets m["resources"] to r in the task file's shape: image_id as a string or a region mapping,
// autostop as false or its settings. Candidates (any_of, ordered) are written as SkyPilot writes several
// resources: the list alone, each entry whole (the shared settings merged in) with one accelerator.
func encodeResources(m map[string]any, r *Resources) error {
	if r == nil {
		return nil
	}
	if len(r.AnyOf) == 0 && len(r.Ordered) == 0 {
		res, err := plainResources(r)
		m["resources"] = res
		return err
	}
	cands, ordered := r.Candidates()
	list := make([]any, len(cands))
	for i, c := range cands {
		var err error
		if list[i], err = plainResources(c); err != nil {
			return err
		}
	}
	key := "any_of"
	if ordered {
		key = "ordered"
	}
	m["resources"] = map[string]any{key: list}
	return nil
}

func plainResources(r *Resources) (map[string]any, error) {
	res, err := plain(r)
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	if img, ok := res["image_id"].(map[string]any); ok {
		if by, ok := img["by_region"]; ok {
			res["image_id"] = by
		} else {
			res["image_id"] = img["id"]
		}
	}
	if a, ok := res["autostop"].(map[string]any); ok {
		if a["enabled"] == false {
			res["autostop"] = false
		} else {
			delete(a, "enabled")
		}
	}
	return res, nil
}

// plain is v's JSON form as plain values (map[string]any, []any, string, float64, bool, nil).
func plain(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(b, &m)
	return m, err
}
