package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/atomicfile"
)

// secretFiles keeps each unfinished job's secrets in DIR/secrets/ID.json (mode 0600 in a 0700 directory) and
// never in the job table. A value written to SQLite lingers after it is cleared: in the WAL until a checkpoint
// that readers may hold off, in the free space of the page that held the row, in any copy of the database. A
// file of its own is removed, overwritten first, when the job ends, and nothing else ever held the value.
type secretFiles struct{ dir string }

func openSecretFiles(dir string) (secretFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return secretFiles{}, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return secretFiles{}, err
	}
	return secretFiles{dir}, nil
}

func (s secretFiles) path(id int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(id, 10)+".json")
}

// put records a job's secrets; a job without any has no file.
func (s secretFiles) put(id int64, secrets map[string]string) error {
	if len(secrets) == 0 {
		return nil
	}
	b, err := json.Marshal(secrets)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path(id), b, 0o600); err != nil {
		return fmt.Errorf("record the secrets of job %d: %w", id, err)
	}
	return nil
}

// get returns a job's secrets, nil when it has none.
func (s secretFiles) get(id int64) (map[string]string, error) {
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var m map[string]string
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("read the secrets of job %d: %w", id, err)
	}
	return m, nil
}

// drop overwrites a job's secrets file with zeros, syncs it and removes it, so its blocks are not freed with
// the value in them (on filesystems that write in place; a copy-on-write filesystem keeps the old blocks).
func (s secretFiles) drop(id int64) error {
	path := s.path(id)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove the secrets of job %d: %w", id, err)
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(make([]byte, fi.Size()), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close(), os.Remove(path))
	if err != nil {
		return fmt.Errorf("remove the secrets of job %d: %w", id, err)
	}
	return nil
}

// ids returns the jobs that have a secrets file.
func (s secretFiles) ids() ([]int64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, e := range ents {
		if id, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".json"), 10, 64); err == nil && strings.HasSuffix(e.Name(), ".json") {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
