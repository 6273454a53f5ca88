package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLastLinesOffset(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 70<<10) + "\n" // longer than one backwards block
	tests := []struct {
		content string
		n       int
		want    string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, "a\nb\nc\n"},
		{"", 3, ""},
		{"\n\n\n", 1, "\n"},
		{"first\n" + big + "last\n", 2, big + "last\n"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			off, err := LastLinesOffset(p, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.content[off:]; got != tt.want {
				t.Errorf("tail %d = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowStreamsGrowthUntilDone(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprint(f, "skip\none\n")
	done := make(chan struct{})
	var out syncBuffer
	res := make(chan int64, 1)
	go func() {
		off, err := Follow(context.Background(), p, 5, &out, done)
		if err != nil {
			t.Error(err)
		}
		res <- off
	}()
	waitFor(t, func() bool { return out.String() == "one\n" })
	fmt.Fprint(f, "two\n")
	waitFor(t, func() bool { return out.String() == "one\ntwo\n" })
	fmt.Fprint(f, "three\n")
	close(done)
	if off := <-res; off != int64(len("skip\none\ntwo\nthree\n")) {
		t.Errorf("offset = %d", off)
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("followed %q", out.String())
	}
}

func TestFollowWithoutDoneCopiesAndReturns(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, []byte("abc"), 0o600)
	var out bytes.Buffer
	off, err := Follow(context.Background(), p, 1, &out, nil)
	if err != nil || off != 3 || out.String() != "bc" {
		t.Errorf("got %q, %d, %v", out.String(), off, err)
	}
	if _, err := Follow(context.Background(), p+".missing", 0, &out, nil); err == nil {
		t.Error("want an error for a missing file")
	}
}

func TestFollowHonoursContext(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, nil, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := Follow(ctx, p, 0, &bytes.Buffer{}, make(chan struct{}))
		res <- err
	}()
	cancel()
	if err := <-res; err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestFollowWithoutInotify covers the polling fallback (no inotify instance left). Not parallel: it swaps the
// process-wide hub, and parallel tests only start after the sequential ones.
func TestFollowWithoutInotify(t *testing.T) {
	saved := shared
	shared = &hub{err: errors.New("inotify: too many instances"), subs: map[int32]map[chan struct{}]struct{}{}}
	defer func() { shared = saved }()
	p := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan struct{})
	var out syncBuffer
	res := make(chan error, 1)
	go func() {
		_, err := Follow(context.Background(), p, 0, &out, done)
		res <- err
	}()
	fmt.Fprint(f, "a\n")
	waitFor(t, func() bool { return out.String() == "a\n" })
	fmt.Fprint(f, "b\n")
	close(done)
	if err := <-res; err != nil || out.String() != "a\nb\n" {
		t.Errorf("followed %q, %v", out.String(), err)
	}
}
