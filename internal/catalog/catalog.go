// Package catalog reads SkyPilot's offerings catalog — per-cloud vms.csv and images.csv, and
// common/accelerators.csv — and answers which instances fit a request, at what price, where. Files are parsed
// by header (column order differs per cloud), indexed once in memory, and queried without I/O; see
// docs/optimizer.md.
package catalog

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
)

// Catalog holds the offerings of several clouds. It is read-only after Load and safe for concurrent use.
type Catalog struct {
	clouds map[string]*Cloud
	names  []string
	// accelerators are common/accelerators.csv's rows: canonical name -> the clouds offering it.
	accelerators map[string][]string
}

// Load reads and indexes the named clouds (all clouds the source has when none are named) and
// common/accelerators.csv when present. Clouds load in parallel. A named cloud without a vms.csv, or any
// malformed file, is an error that names the file (and line).
func Load(ctx context.Context, src Source, clouds ...string) (*Catalog, error) {
	if len(clouds) == 0 {
		var err error
		if clouds, err = src.Clouds(ctx); err != nil {
			return nil, err
		}
	}
	cat := &Catalog{clouds: map[string]*Cloud{}, accelerators: map[string][]string{}}
	type result struct {
		c   *Cloud
		err error
	}
	results := make([]result, len(clouds))
	var wg sync.WaitGroup
	for i, name := range clouds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := loadCloud(ctx, src, strings.ToLower(name))
			results[i] = result{c, err}
		}()
	}
	data, err := src.ReadFile(ctx, acceleratorsFile)
	switch {
	case err == nil:
		if cat.accelerators, err = parseAccelerators(src.Path(acceleratorsFile), string(data)); err != nil {
			wg.Wait()
			return nil, err
		}
	case !isNotExist(err):
		wg.Wait()
		return nil, fmt.Errorf("read catalog %s: %w", src.Path(acceleratorsFile), err)
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := cat.clouds[r.c.name]; !dup {
			cat.clouds[r.c.name] = r.c
			cat.names = append(cat.names, r.c.name)
		}
	}
	sort.Strings(cat.names)
	return cat, nil
}

// loadCloud reads one cloud's vms.csv (required) and images.csv (optional).
func loadCloud(ctx context.Context, src Source, name string) (*Cloud, error) {
	if name == "" || name == "common" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("invalid catalog cloud name %q", name)
	}
	vmsName := path.Join(name, vmsFile)
	data, err := src.ReadFile(ctx, vmsName)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("no catalog for %s: %s does not exist", name, src.Path(vmsName))
		}
		return nil, fmt.Errorf("read catalog %s: %w", src.Path(vmsName), err)
	}
	file := src.Path(vmsName)
	rows, zones, err := parseVMS(file, string(data))
	if err != nil {
		return nil, err
	}
	c := newCloud(name, file, rows, zones)
	imgName := path.Join(name, imagesFile)
	if data, err := src.ReadFile(ctx, imgName); err == nil {
		if c.images, err = parseImages(src.Path(imgName), string(data)); err != nil {
			return nil, err
		}
	} else if !isNotExist(err) {
		c.imagesErr = fmt.Errorf("read catalog %s: %w", src.Path(imgName), err)
	}
	return c, nil
}

// Cloud returns a loaded cloud by name, case-insensitively.
func (cat *Catalog) Cloud(name string) (*Cloud, bool) {
	c, ok := cat.clouds[strings.ToLower(name)]
	return c, ok
}

// Clouds returns the loaded clouds sorted by name.
func (cat *Catalog) Clouds() []*Cloud {
	out := make([]*Cloud, len(cat.names))
	for i, n := range cat.names {
		out[i] = cat.clouds[n]
	}
	return out
}

// Names lists the loaded clouds' names, sorted.
func (cat *Catalog) Names() []string { return append([]string(nil), cat.names...) }

// AcceleratorClouds returns the clouds common/accelerators.csv lists for an accelerator (as written there,
// e.g. "AWS"), matching the name case-insensitively; nil when it does not list it.
func (cat *Catalog) AcceleratorClouds(name string) []string {
	for n, clouds := range cat.accelerators {
		if strings.EqualFold(n, name) {
			return append([]string(nil), clouds...)
		}
	}
	return nil
}

// parseAccelerators reads common/accelerators.csv: AcceleratorName, Clouds (a Python list literal).
func parseAccelerators(file, data string) (map[string][]string, error) {
	r := newCSVReader(file, data)
	header, ok, err := r.Read()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &FileError{File: file, Msg: "file is empty (expected a header line)"}
	}
	nameCol, cloudsCol := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "acceleratorname":
			nameCol = i
		case "clouds":
			cloudsCol = i
		}
	}
	if nameCol < 0 || cloudsCol < 0 {
		return nil, r.errorf("header must have AcceleratorName and Clouds columns")
	}
	width := len(header)
	out := map[string][]string{}
	for {
		rec, ok, err := r.Read()
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		if len(rec) != width {
			return nil, r.errorf("has %d fields, the header has %d (file truncated or corrupted?)", len(rec), width)
		}
		v, err := parsePyLiteral(rec[cloudsCol])
		if err != nil {
			return nil, r.errorf("column Clouds: %v", err)
		}
		list, _ := v.([]any)
		var clouds []string
		for _, c := range list {
			if s, ok := c.(string); ok {
				clouds = append(clouds, s)
			}
		}
		out[strings.TrimSpace(rec[nameCol])] = clouds
	}
}
