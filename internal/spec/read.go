package spec

import (
	"io"
	"os"

	"github.com/stix-run/stix/api"
)

// ReadFileLimited reads an input file (a task file, an env file, a config file) of at most api.MaxTaskBytes;
// what names it in the error ("task file"). A regular file that is larger fails before anything is read;
// anything else (a pipe, a device, a link to /dev/zero) is read only up to the limit, so an endless input fails
// fast rather than filling memory.
func ReadFileLimited(what, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > api.MaxTaskBytes {
		return nil, &api.TooLargeError{What: what + " " + path, Size: fi.Size()}
	}
	data, err := io.ReadAll(io.LimitReader(f, api.MaxTaskBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > api.MaxTaskBytes {
		return nil, &api.TooLargeError{What: what + " " + path, Size: -1}
	}
	return data, nil
}
