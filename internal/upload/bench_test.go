package upload

import (
	"fmt"
	"testing"
)

// BenchmarkPush1000Files pushes a tree of 1000 files of 1 KiB to a loopback server: first to an empty store
// (every blob sent), then unchanged (nothing sent but the manifest).
func BenchmarkPush1000Files(b *testing.B) {
	src := b.TempDir()
	files := map[string]string{}
	for i := range 1000 {
		files[fmt.Sprintf("pkg%02d/file%03d.py", i/100, i)] = fmt.Sprintf("# file %d\n%01020d\n", i, i)
	}
	writeFiles(b, src, files)
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ts := newTestServer(b, Limits{})
			b.StartTimer()
			push(b, ts, src, PushOptions{})
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		ts := newTestServer(b, Limits{})
		push(b, ts, src, PushOptions{})
		ts.sent()
		for b.Loop() {
			push(b, ts, src, PushOptions{})
		}
		if n := ts.sent(); n != 0 {
			b.Fatalf("unchanged pushes sent %d blob bytes", n)
		}
	})
}
