package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// SchemaVersion is the version of SkyPilot's catalog layout stix reads: files live under <root>/v7/.
const SchemaVersion = "v7"

// Source gives access to catalog files by their path relative to the versioned catalog directory
// ("aws/vms.csv", "common/accelerators.csv"). Dir reads a directory as it is; Cache downloads and refreshes
// files (docs/optimizer.md, "Sources, cache and refresh") and hands back the same bytes. FromEnv picks one.
type Source interface {
	// ReadFile returns a file's content; an error wrapping fs.ErrNotExist when the file is absent.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// Clouds lists the clouds that have a vms.csv, sorted.
	Clouds(ctx context.Context) ([]string, error)
	// Path names a file for messages, e.g. its absolute path.
	Path(name string) string
}

// Dir is a Source reading a catalog directory in place (the one that holds aws/, gcp/, common/ ...).
type Dir string

// ReadFile reads name under the directory.
func (d Dir) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.ReadFile(d.Path(name))
}

// Clouds lists the sub-directories that hold a vms.csv.
func (d Dir) Clouds(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(string(d))
	if err != nil {
		return nil, fmt.Errorf("read catalog directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(string(d), e.Name(), vmsFile)); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Path joins name to the directory.
func (d Dir) Path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

const (
	vmsFile          = "vms.csv"
	imagesFile       = "images.csv"
	acceleratorsFile = "common/accelerators.csv"
)

// isNotExist reports whether err says a file is absent.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
