package spec

import "testing"

// A pool: section is read into Task.Pool; a task without one has none.
func TestPoolSection(t *testing.T) {
	t.Parallel()
	p, err := Load("pool.yaml", []byte("pool:\n  workers: 3\nresources:\n  cpus: 2+\nsetup: echo ready\n"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Tasks[0].Pool; got == nil || got.Workers != 3 {
		t.Errorf("pool = %+v, want 3 workers", got)
	}
	p, err = Load("job.yaml", []byte("run: echo\n"), LoadOptions{})
	if err != nil || p.Tasks[0].Pool != nil {
		t.Errorf("a job: pool %+v, %v", p.Tasks[0].Pool, err)
	}
}
