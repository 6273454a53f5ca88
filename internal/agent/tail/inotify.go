package tail

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// hub multiplexes every follower in the process onto one inotify instance: instances are few per user (128 by
// default) while watches are plenty.
type hub struct {
	mu   sync.Mutex
	file *os.File // nil until first use
	err  error    // why inotify is unavailable
	subs map[int32]map[chan struct{}]struct{}
}

var shared = &hub{subs: map[int32]map[chan struct{}]struct{}{}}

const watchMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// subscribe returns a channel that receives (coalesced) a value whenever path changes.
func (h *hub) subscribe(path string) (<-chan struct{}, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.file == nil && h.err == nil {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			h.err = fmt.Errorf("inotify: %w", err)
		} else {
			// A non-blocking fd makes os.File use the runtime poller, so the reader parks without a thread.
			h.file = os.NewFile(uintptr(fd), "inotify")
			// The reader lives as long as the process: the hub is process-wide and never closed.
			go h.read()
		}
	}
	if h.err != nil {
		return nil, nil, h.err
	}
	wd, err := unix.InotifyAddWatch(int(h.file.Fd()), path, watchMask)
	if err != nil {
		return nil, nil, fmt.Errorf("watch %s: %w", path, err)
	}
	ch := make(chan struct{}, 1)
	w := int32(wd)
	if h.subs[w] == nil {
		h.subs[w] = map[chan struct{}]struct{}{}
	}
	h.subs[w][ch] = struct{}{}
	cancel := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[w], ch)
		if len(h.subs[w]) == 0 {
			delete(h.subs, w)
			_, _ = unix.InotifyRmWatch(int(h.file.Fd()), uint32(w))
		}
	}
	return ch, cancel, nil
}

func (h *hub) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := h.file.Read(buf)
		if err != nil {
			h.mu.Lock()
			h.err = fmt.Errorf("inotify read: %w", err)
			for _, set := range h.subs {
				for ch := range set {
					notify(ch)
				}
			}
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			for ch := range h.subs[wd] {
				notify(ch)
			}
			off += unix.SizeofInotifyEvent + nameLen
		}
		h.mu.Unlock()
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
