package spec

import "fmt"

// PoolSpec is a task's `pool:` section: the task describes the workers of a pool (SkyPilot's pools), each a
// cluster launched with the task's resources and setup, that managed jobs submitted with --pool run on.
type PoolSpec struct {
	// Workers is how many workers the pool keeps, at least 1.
	Workers int `json:"workers"`
}

// pool decodes a `pool:` section (the schema has checked its shape).
func (d *decoder) pool(f *field, path string) *PoolSpec {
	v := f.val
	if v == nil || v.kind != kindMap {
		return nil
	}
	w := v.field("workers")
	if w == nil {
		d.keyErr(f.keyLine, f.keyCol, path, "a pool needs its number of workers",
			"add `workers: N` (N ≥ 1) under pool:")
		return &PoolSpec{}
	}
	n, ok := w.val.integer()
	if !ok {
		return &PoolSpec{} // the schema reports a non-integer
	}
	if n < 1 {
		d.valueErr(w.val, joinPath(path, "workers"), &hintError{
			msg:  fmt.Sprintf("a pool needs at least 1 worker, got %d", n),
			hint: "set pool.workers to 1 or more; delete a pool with `stix jobs pool down NAME`",
		})
		return &PoolSpec{}
	}
	return &PoolSpec{Workers: int(n)}
}
