// Package logsync is `--sync-down` of the logs commands (`stix serve logs -s`, `stix jobs logs -s`): it writes
// logs streamed through api.Client into files under the local logs directory, laid out as SkyPilot lays them
// out under its ~/sky_logs.
package logsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DirName is the local logs directory under the user's home: SkyPilot's (SKY_LOGS_DIRECTORY), which stix
// shares, as `stix logs -s` does.
const DirName = "sky_logs"

// LocalDir is ~/sky_logs.
func LocalDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory for %s: %w", DirName, err)
	}
	return filepath.Join(home, DirName), nil
}

// Timestamp names one download, as SkyPilot's run timestamps do: 2006-01-02-15-04-05-000000.
func Timestamp(t time.Time) string {
	return strings.Replace(t.Format("2006-01-02-15-04-05.000000"), ".", "-", 1)
}

// Part is one log to download: written by Copy into the file File of the download's directory.
type Part struct {
	File string
	Copy func(ctx context.Context, w io.Writer) error
}

// Download writes every part into dir (made if missing): each into FILE.part first, renamed to FILE once
// complete, so a file there is always a whole log. A part that fails leaves no file and does not stop the
// others; the paths written are returned with every failure joined.
func Download(ctx context.Context, dir string, parts []Part) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir, err)
	}
	var (
		paths []string
		errs  []error
	)
	for _, p := range parts {
		path := filepath.Join(dir, p.File)
		if err := write(ctx, path, p.Copy); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.File, err))
			continue
		}
		paths = append(paths, path)
	}
	return paths, errors.Join(errs...)
}

func write(ctx context.Context, path string, copyTo func(context.Context, io.Writer) error) error {
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = copyTo(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
