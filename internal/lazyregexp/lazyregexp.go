// Package lazyregexp is a regexp compiled on first use (after the Go toolchain's internal package of the same
// name). Every stix command runs every linked package's init, so a package-level regexp.MustCompile costs every
// command, even the many that never match it; a lazyregexp.New costs nothing until it is used.
package lazyregexp

import (
	"regexp"
	"sync"
)

// Regexp is a regexp.Regexp compiled the first time one of its methods is called.
type Regexp struct {
	str  string
	once sync.Once
	rx   *regexp.Regexp
}

// New returns a Regexp of str, which must compile (it panics on first use otherwise, as regexp.MustCompile does).
func New(str string) *Regexp { return &Regexp{str: str} }

// Re returns the compiled regexp.
func (r *Regexp) Re() *regexp.Regexp {
	r.once.Do(func() { r.rx = regexp.MustCompile(r.str) })
	return r.rx
}

// MatchString reports whether s contains a match.
func (r *Regexp) MatchString(s string) bool { return r.Re().MatchString(s) }

// FindStringSubmatch returns the leftmost match and its submatches.
func (r *Regexp) FindStringSubmatch(s string) []string { return r.Re().FindStringSubmatch(s) }

// FindAllStringSubmatch returns up to n successive matches (all for n < 0) with their submatches.
func (r *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.Re().FindAllStringSubmatch(s, n)
}

// ReplaceAllStringFunc replaces every match with repl's result.
func (r *Regexp) ReplaceAllStringFunc(src string, repl func(string) string) string {
	return r.Re().ReplaceAllStringFunc(src, repl)
}

// String returns the source text.
func (r *Regexp) String() string { return r.str }

// Split slices s into substrings separated by the matches (at most n for n >= 0).
func (r *Regexp) Split(s string, n int) []string { return r.Re().Split(s, n) }
