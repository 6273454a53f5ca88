package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/sqlitedb/filelock"
)

// Defaults of the refreshing cache; docs/optimizer.md, "Cache and refresh".
const (
	// DefaultBaseURL is SkyPilot's hosted catalog: files are at <base>/v7/<cloud>/vms.csv.
	DefaultBaseURL = "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs"
	// DefaultMirrorURL is the hosted catalog's S3 mirror (same layout), tried when the base answers HTTP 429.
	DefaultMirrorURL = "https://skypilot-catalog.s3.us-east-1.amazonaws.com/catalogs"
	// DefaultTTL is how long a downloaded file is used before it is fetched again (SkyPilot's 7 hours).
	DefaultTTL = 7 * time.Hour
	// DefaultFetchTimeout bounds one download, so a hung connection cannot hang a launch.
	DefaultFetchTimeout = time.Minute
)

// DefaultClouds are the clouds a Cache lists when asked for all of them: the paid clouds whose SkyPilot catalog
// stix knows how to read.
var DefaultClouds = []string{"aws", "azure", "cudo", "do", "gcp", "hyperbolic", "lambda", "nebius", "paperspace", "runpod"}

// metaDir holds, per catalog file, what the cache knows of it (<name>.json) and its lock (<name>.lock).
const metaDir = ".meta"

// Cache is a Source that keeps SkyPilot's catalog files under Dir and downloads each one from BaseURL when it is
// missing or older than its cloud's TTL. Only the files read are fetched. A file that differs from the last
// download (edited, or put there by the user) is never overwritten; a failed download keeps the cached copy
// and warns. Concurrent readers, in this process or others, download a file once: the refresh holds a file
// lock and re-checks after taking it. The zero value of every field but Dir means its default.
type Cache struct {
	// Dir is the versioned cache directory, e.g. ~/.stix/catalogs/v7.
	Dir string
	// BaseURL is the catalogs root, without the schema version (DefaultBaseURL when empty).
	BaseURL string
	// MirrorURL, when set, is tried once when BaseURL answers HTTP 429 (rate limited).
	MirrorURL string
	// TTL is how long a file is fresh (DefaultTTL when zero); CloudTTL overrides it per cloud ("aws", "common").
	TTL      time.Duration
	CloudTTL map[string]time.Duration
	// FetchTimeout bounds one download (DefaultFetchTimeout when zero).
	FetchTimeout time.Duration
	// Client does the downloads (http.DefaultClient, which honours proxy variables, when nil).
	Client *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Warn receives warnings (kept cached copy, user-edited file); nil drops them. Calls are serialized.
	Warn func(string)

	warnMu sync.Mutex
}

// cacheMeta is what the cache records about one file in .meta/<name>.json.
type cacheMeta struct {
	// SHA256 is the hash of the last download; empty when stix never downloaded the file.
	SHA256  string    `json:"sha256,omitempty"`
	URL     string    `json:"url,omitempty"`
	Fetched time.Time `json:"fetched,omitzero"`
	// Checked is the last time the file was refreshed, failed to refresh, or was found edited: the TTL counts
	// from it, so an offline machine tries once per TTL rather than on every command.
	Checked time.Time `json:"checked"`
	// Absent: the server answered 404 and there is no local copy (most clouds have no images.csv).
	Absent bool `json:"absent,omitempty"`
}

// FromEnv returns the catalog Source the rest of stix uses. With STIX_CATALOG_DIR set, that directory (the one
// holding aws/, gcp/, common/ ...) is read as it is: no download, no writes. Otherwise it is the Cache at
// <home>/catalogs/v7, downloading from STIX_CATALOG_URL (the catalogs root, without the version; default
// SkyPilot's hosted catalog and its mirror) and refreshing after STIX_CATALOG_TTL (a Go duration, default 7h).
func FromEnv(home string, getenv func(string) string, warn func(string)) (Source, error) {
	if dir := getenv("STIX_CATALOG_DIR"); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("STIX_CATALOG_DIR=%s is not a directory: point it at a SkyPilot catalog "+
				"directory (%s layout, holding aws/vms.csv ...) or unset it to download the catalog", dir, SchemaVersion)
		}
		return Dir(dir), nil
	}
	if home == "" {
		return nil, errors.New("catalog cache: no stix home directory (set STIX_HOME or HOME)")
	}
	c := &Cache{Dir: filepath.Join(home, "catalogs", SchemaVersion), BaseURL: DefaultBaseURL,
		MirrorURL: DefaultMirrorURL, TTL: DefaultTTL, Warn: warn}
	if s := getenv("STIX_CATALOG_URL"); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("STIX_CATALOG_URL=%q: want an http(s) URL of a catalogs root that holds "+
				"%s/aws/vms.csv ..., such as %s", s, SchemaVersion, DefaultBaseURL)
		}
		c.BaseURL, c.MirrorURL = s, ""
	}
	if s := getenv("STIX_CATALOG_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("STIX_CATALOG_TTL=%q: want a positive Go duration such as 7h or 30m", s)
		}
		c.TTL = d
	}
	return c, nil
}

// ReadFile returns the cached file, refreshing it first when it is missing or stale.
func (c *Cache) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if !fs.ValidPath(name) || name == "." || name == metaDir || strings.HasPrefix(name, metaDir+"/") {
		return nil, fmt.Errorf("catalog file name %q: want a relative path such as aws/vms.csv", name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := c.refresh(ctx, name)
	if err != nil || data != nil {
		return data, err
	}
	return os.ReadFile(c.Path(name))
}

// Clouds lists DefaultClouds and any other cloud the cache directory holds a vms.csv for.
func (c *Cache) Clouds(ctx context.Context) ([]string, error) {
	cached, err := Dir(c.Dir).Clouds(ctx)
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range append(append([]string(nil), DefaultClouds...), cached...) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Path is the cached file's path.
func (c *Cache) Path(name string) string { return Dir(c.Dir).Path(name) }

// URL is where name is downloaded from.
func (c *Cache) URL(name string) string {
	return joinURL(c.BaseURL, name)
}

func joinURL(base, name string) string {
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimSuffix(base, "/") + "/" + SchemaVersion + "/" + name
}

// refresh downloads name when it is stale. It returns the downloaded bytes when it fetched them, nil when the
// file on disk is the one to read.
func (c *Cache) refresh(ctx context.Context, name string) ([]byte, error) {
	if c.fresh(name) {
		return nil, nil
	}
	unlock, err := filelock.Lock(ctx, c.metaPath(name)+".lock")
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	}
	defer unlock()
	// Another process may have refreshed the file while this one waited for the lock.
	if c.fresh(name) {
		return nil, nil
	}
	now := c.now()
	meta := c.readMeta(name)
	file := c.Path(name)
	sum, err := fileSHA256(file)
	exists := err == nil
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("read catalog %s: %w", file, err)
	}
	if exists && sum != meta.SHA256 {
		if meta.SHA256 == "" {
			c.warn(fmt.Sprintf("catalog %s was not downloaded by stix: using it as is and not refreshing it "+
				"(delete it to get SkyPilot's current catalog)", file))
		} else {
			c.warn(fmt.Sprintf("catalog %s was edited since stix downloaded it on %s: keeping your edits and "+
				"not refreshing it (delete it to get SkyPilot's current catalog)", file, meta.Fetched.Format(time.DateTime)))
		}
		meta.Checked, meta.Absent = now, false
		c.writeMeta(name, meta)
		return nil, nil
	}

	data, from, err := c.download(ctx, name)
	switch {
	case err == nil:
		if err := saveFile(file, data); err != nil {
			c.warn(fmt.Sprintf("catalog %s: downloaded but could not save it, so the next command downloads it "+
				"again: %v", file, err))
			return data, nil
		}
		c.writeMeta(name, cacheMeta{SHA256: sha256Hex(data), URL: from, Fetched: now, Checked: now})
		return data, nil
	case ctx.Err() != nil:
		// The caller gave up (Ctrl-C): not a failed refresh to remember or warn about.
		return nil, fmt.Errorf("catalog %s: %w", name, context.Cause(ctx))
	case errors.Is(err, errNotFound) && !exists:
		c.writeMeta(name, cacheMeta{URL: from, Checked: now, Absent: true})
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	case !exists && meta.Absent:
		// Known to be absent upstream: nothing is lost, so no warning; try again a TTL later.
		meta.Checked = now
		c.writeMeta(name, meta)
		return nil, fmt.Errorf("catalog %s: %w", name, fs.ErrNotExist)
	case exists:
		c.warn(fmt.Sprintf("catalog %s: could not refresh it (%v); using the copy downloaded on %s and trying "+
			"again in %s", name, err, meta.Fetched.Format(time.DateTime), c.ttl(name)))
		meta.Checked = now
		c.writeMeta(name, meta)
		return nil, nil
	default:
		return nil, fmt.Errorf("catalog %s is not cached and could not be downloaded: %w\n"+
			"To work offline, set STIX_CATALOG_DIR to a directory holding SkyPilot's catalog (%s layout: "+
			"aws/vms.csv, gcp/vms.csv, common/accelerators.csv ...); or set STIX_CATALOG_URL to a mirror",
			name, err, SchemaVersion)
	}
}

// fresh reports whether name was decided on (downloaded, kept, or found absent) less than a TTL ago and the
// file is still as that decision left it.
func (c *Cache) fresh(name string) bool {
	now := c.now()
	meta := c.readMeta(name)
	if meta.Checked.IsZero() {
		return false
	}
	// A clock set back makes the age negative: refresh rather than trust a check from the future.
	if age := now.Sub(meta.Checked); age < 0 || age >= c.ttl(name) {
		return false
	}
	_, err := os.Stat(c.Path(name))
	return (err == nil) != meta.Absent
}

func (c *Cache) ttl(name string) time.Duration {
	cloud, _, _ := strings.Cut(name, "/")
	if d, ok := c.CloudTTL[cloud]; ok {
		return d
	}
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultTTL
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) warn(msg string) {
	if c.Warn == nil {
		return
	}
	c.warnMu.Lock()
	defer c.warnMu.Unlock()
	c.Warn(msg)
}

func (c *Cache) metaPath(name string) string {
	return filepath.Join(c.Dir, metaDir, filepath.FromSlash(name))
}

// readMeta returns what is recorded about name; nothing recorded (or an unreadable record) is the zero value,
// which makes the file stale.
func (c *Cache) readMeta(name string) cacheMeta {
	var m cacheMeta
	data, err := os.ReadFile(c.metaPath(name) + ".json")
	if err != nil || json.Unmarshal(data, &m) != nil {
		return cacheMeta{}
	}
	return m
}

// writeMeta records meta; failing to is only a warning, since it costs at most an early refresh.
func (c *Cache) writeMeta(name string, m cacheMeta) {
	data, err := json.Marshal(m)
	if err == nil {
		err = saveFile(c.metaPath(name)+".json", data)
	}
	if err != nil {
		c.warn(fmt.Sprintf("catalog %s: could not record its download state: %v", name, err))
	}
}

func saveFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(file, data, 0o644)
}

func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
