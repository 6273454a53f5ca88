package atomicfile

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// An executable written while other goroutines fork runs at once: no "text file busy".
func TestWriteExecutableWhileForking(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				exec.Command("/bin/true").Run()
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()
	dir := t.TempDir()
	for i := range 300 {
		p := filepath.Join(dir, "run"+strings.Repeat("x", i%7))
		if err := WriteExecutable(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(p).CombinedOutput(); err != nil {
			t.Fatalf("run %s after write %d: %v %s", p, i, err, out)
		}
	}
}
