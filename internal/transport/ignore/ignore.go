// Package ignore decides which files of a directory tree stay behind when the tree is synced to a node, from
// `.skyignore` or, when the tree has none at its root, `.gitignore` files.
//
// It implements the part of gitignore that matters for syncing: globs (`*`, `?`, `[a-z]`), `**` across
// directories, a trailing `/` for directories only, `!` to re-include, a leading or inner `/` to anchor a pattern
// to its file's directory, and ignore files in subdirectories whose patterns apply below them and override their
// parents'. As in git, a file under an ignored directory cannot be re-included: walkers prune ignored directories.
package ignore

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// File names of the ignore files, in order of preference.
const (
	SkyIgnore = ".skyignore"
	GitIgnore = ".gitignore"
)

// FileFor returns the ignore-file name that governs the tree at root: .skyignore when root has one, else
// .gitignore (SkyPilot's rule).
func FileFor(root string) string {
	if fi, err := os.Stat(filepath.Join(root, SkyIgnore)); err == nil && fi.Mode().IsRegular() {
		return SkyIgnore
	}
	return GitIgnore
}

// Matcher holds the patterns of the ignore files read so far. The zero value ignores nothing.
// A Matcher is not safe for concurrent use while patterns are added.
type Matcher struct {
	// FileName is the ignore-file name that walkers read in every directory (.skyignore or .gitignore).
	FileName string
	rules    []rule
}

// New returns an empty Matcher for ignore files named fileName.
func New(fileName string) *Matcher { return &Matcher{FileName: fileName} }

// rule is one pattern line of an ignore file.
type rule struct {
	base    string   // directory of the ignore file, slash-separated, relative to the tree root ("" for the root)
	segs    []string // pattern split on "/"; "**" matches any number of segments
	negate  bool     // "!pattern": re-include
	dirOnly bool     // "pattern/": matches directories only
}

// Add reads the patterns of an ignore file found in dir (slash-separated, relative to the tree root; "" for the
// root). Patterns added later take precedence, so add a parent directory's file before its children's.
func (m *Matcher) Add(dir string, content []byte) {
	dir = strings.Trim(path.Clean("/"+dir), "/")
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if r, ok := parseLine(sc.Text()); ok {
			r.base = dir
			m.rules = append(m.rules, r)
		}
	}
}

// AddFile reads the ignore file m.FileName in dir under root, if there is one.
func (m *Matcher) AddFile(root, dir string) error {
	if m.FileName == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), m.FileName))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	m.Add(dir, b)
	return nil
}

// parseLine turns one line of an ignore file into a rule; ok is false for blanks, comments and bad patterns.
func parseLine(line string) (r rule, ok bool) {
	line = strings.TrimSuffix(line, "\r")
	line = trimTrailingSpaces(line)
	if line == "" || line[0] == '#' {
		return rule{}, false
	}
	if line[0] == '!' {
		r.negate = true
		line = line[1:]
	} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		r.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if line == "" {
		return rule{}, false
	}
	// A slash at the start or in the middle anchors the pattern to the ignore file's directory; without one the
	// pattern matches a name at any depth, which is the same as a leading "**/".
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	r.segs = strings.Split(line, "/")
	if !anchored {
		r.segs = append([]string{"**"}, r.segs...)
	}
	for _, s := range r.segs {
		if _, err := path.Match(s, ""); err != nil {
			return rule{}, false // malformed glob: git ignores such a line too
		}
	}
	return r, true
}

// trimTrailingSpaces drops trailing spaces unless escaped with a backslash, as git does.
func trimTrailingSpaces(s string) string {
	for strings.HasSuffix(s, " ") && !strings.HasSuffix(s, `\ `) {
		s = s[:len(s)-1]
	}
	if strings.HasSuffix(s, `\ `) {
		s = s[:len(s)-2] + " "
	}
	return s
}

// Ignored reports whether the path p (slash-separated, relative to the tree root) is ignored. It looks at p
// itself, not its parents: walkers skip the contents of ignored directories.
func (m *Matcher) Ignored(p string, isDir bool) bool {
	if m == nil || len(m.rules) == 0 {
		return false
	}
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return false // the root itself is never ignored
	}
	// The last rule that matches decides, and rules from deeper ignore files come later.
	for i := len(m.rules) - 1; i >= 0; i-- {
		r := &m.rules[i]
		if r.dirOnly && !isDir {
			continue
		}
		rel, ok := under(p, r.base)
		if !ok {
			continue
		}
		if matchSegs(r.segs, strings.Split(rel, "/")) {
			return !r.negate
		}
	}
	return false
}

// under returns p relative to base when p lies strictly below base.
func under(p, base string) (string, bool) {
	if base == "" {
		return p, true
	}
	if strings.HasPrefix(p, base+"/") {
		return p[len(base)+1:], true
	}
	return "", false
}

// matchSegs matches pattern segments against path segments; "**" spans zero or more segments, except that a
// trailing "**" needs at least one ("dir/**" matches what is inside dir, not dir itself).
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return len(name) > 0
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
