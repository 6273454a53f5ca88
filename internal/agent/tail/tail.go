// Package tail streams a growing log file: from an offset, or from the last N lines found by reading backwards
// from the end, and then (following) as it grows, woken by inotify rather than by polling.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Flusher is implemented by writers that buffer (http.ResponseWriter via http.Flusher); Follow flushes after
// each batch so a follower sees output as soon as it is written.
type Flusher interface{ Flush() }

// Follow copies path from offset to w and returns the offset reached. With done nil it copies what is there and
// returns. Otherwise it keeps copying as the file grows until done is closed, then copies what is left and
// returns: the writer of the file must close done only after its last write.
func Follow(ctx context.Context, path string, offset int64, w io.Writer, done <-chan struct{}) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return offset, err
	}
	defer f.Close()
	var wake <-chan struct{}
	if done != nil {
		sub, cancel, err := shared.subscribe(path)
		if err == nil {
			defer cancel()
			wake = sub
		} else {
			// No inotify (instance limit reached, exotic filesystem): fall back to a short poll.
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			stop := make(chan struct{})
			defer close(stop)
			ch := make(chan struct{}, 1)
			go func() {
				for {
					select {
					case <-t.C:
						select {
						case ch <- struct{}{}:
						default:
						}
					case <-stop:
						return
					}
				}
			}()
			wake = ch
		}
	}
	for {
		n, err := copyFrom(f, offset, w)
		offset += n
		if err != nil {
			return offset, err
		}
		if done == nil {
			return offset, nil
		}
		select {
		case <-done:
			n, err := copyFrom(f, offset, w)
			return offset + n, err
		case <-ctx.Done():
			return offset, ctx.Err()
		case <-wake:
		}
	}
}

// copyFrom copies f from offset to its current end.
func copyFrom(f *os.File, offset int64, w io.Writer) (int64, error) {
	n, err := io.Copy(w, io.NewSectionReader(f, offset, 1<<62))
	if n > 0 {
		if fl, ok := w.(Flusher); ok {
			fl.Flush()
		}
	}
	if err != nil {
		return n, fmt.Errorf("copy log: %w", err)
	}
	return n, nil
}

// LastLinesOffset returns the offset at which the last n lines of path begin, reading backwards from the end
// in blocks so that a large log is not read whole. A final line without a newline counts as a line; n ≤ 0 means
// the whole file (offset 0).
func LastLinesOffset(path string, n int) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := fi.Size()
	if end == 0 {
		return 0, nil
	}
	// A trailing newline ends the last line; it does not start another.
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, end-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		end--
	}
	const block = 32 << 10
	buf := make([]byte, block)
	found := 0
	for pos := end; pos > 0; {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				found++
				if found == n {
					return pos + i + 1, nil
				}
			}
		}
	}
	return 0, nil
}

// LastLines returns the last n lines of b (a final line without a newline counts as a line); n ≤ 0, or fewer
// lines than n, returns b whole. For output already in memory; LastLinesOffset finds them in a file.
func LastLines(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
