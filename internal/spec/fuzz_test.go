package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds Load arbitrary bytes: it must never panic, and what it returns must be consistent.
// Run it with: go test -run '^$' -fuzz FuzzLoad -fuzztime 60s ./internal/spec/
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	root, files := corpusFiles(f)
	for _, rel := range files {
		if data, err := os.ReadFile(filepath.Join(root, rel)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data, LoadOptions{Env: map[string]string{"MODEL": "m"}})
		if p == nil {
			t.Fatalf("Load returned no pipeline (err %v)", err)
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			for i, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Message == "" {
					t.Fatalf("error without a position or message: %#v", e)
				}
				if i > 0 && e.Pos.before(list[i-1].Pos) {
					t.Fatalf("errors not sorted: %v", list)
				}
			}
			_ = list.Error()
		}
		for _, n := range p.Notices {
			_ = n.String()
		}
		for _, task := range p.Tasks {
			if task.Resources == nil || task.NumNodes < 1 {
				t.Fatalf("task without resources or nodes: %+v", task)
			}
			if _, err := json.Marshal(task); err != nil {
				t.Fatalf("task does not marshal: %v", err)
			}
			_ = task.String()
			_, _ = task.Resources.Candidates()
			_ = task.MissingEnvs()
			_ = task.ApplyOverrides(Overrides{Cpus: ptr("2+"), Ports: []string{"8080"}})
		}
	})
}

// BenchmarkLoadCorpus loads every file of the conformance corpus; ns/op is for the whole corpus, and the
// per-file figure is reported as ns/file.
func BenchmarkLoadCorpus(b *testing.B) {
	root, files := corpusFiles(b)
	data := make([][]byte, len(files))
	for i, rel := range files {
		var err error
		if data[i], err = os.ReadFile(filepath.Join(root, rel)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := taskSchema(); err != nil { // compile outside the timed loop
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, rel := range files {
			_, _ = Load(rel, data[i], LoadOptions{})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(files)), "ns/file")
}
