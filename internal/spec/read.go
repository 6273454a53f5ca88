package spec

import "github.com/stix-run/stix/api"

// ReadFileLimited is api.ReadFileLimited: an input file (a task file, an env file, a config file) of at most
// api.MaxTaskBytes, read so that an endless input fails fast.
func ReadFileLimited(what, path string) ([]byte, error) { return api.ReadFileLimited(what, path) }
