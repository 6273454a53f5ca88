package atomicfile

import (
	"os"
	"syscall"
)

// HoldForks keeps this process from forking while an executable file is open for writing, and returns the
// function that lets it fork again; for a file without execute bits it does nothing. A child forked while the
// file is open inherits the descriptor until it execs, and running the file in that window fails with "text
// file busy" (ETXTBSY, golang/go#22315): parallel node starts and parallel tests hit it. Forks take
// syscall.ForkLock for writing, so holding it for reading is enough.
func HoldForks(perm os.FileMode) (release func()) {
	if perm&0o111 == 0 {
		return func() {}
	}
	syscall.ForkLock.RLock()
	return syscall.ForkLock.RUnlock
}

// WriteExecutable writes data to path with permissions perm, atomically, and never leaves the file open in a
// forked child (see HoldForks): the file can be run as soon as WriteExecutable returns.
func WriteExecutable(path string, data []byte, perm os.FileMode) error {
	defer HoldForks(perm)()
	return Write(path, data, perm)
}
