package server

import (
	"bytes"
	"io"
	"os"
)

// maxLogRead bounds how much of the server's log one call sends.
const maxLogRead = 4 << 20

// readTail returns the last n lines of the file (all of it when n is 0), at most its last maxLogRead bytes.
func readTail(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-maxLogRead, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil || n == 0 {
		return b, err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	i := len(b)
	for ; n > 0 && i > 0; n-- {
		i = bytes.LastIndexByte(b[:i], '\n')
		if i < 0 {
			return append(b, '\n'), nil
		}
	}
	return append(b[i+1:], '\n'), nil
}
