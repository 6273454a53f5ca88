package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a task file: 1-based line and column. A zero Line means "the file as a whole"; an empty
// File means the value came from the command line, not a file.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String renders the position as file:line:col, dropping what is unknown.
func (p Pos) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return ""
	case p.Line == 0:
		return p.File
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// before orders positions by file, then line, then column.
func (p Pos) before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Error is one problem in a task file, with where it is, which key it concerns, what is wrong and how to fix it.
type Error struct {
	Pos     Pos
	Path    string // key path such as "resources.cpus"; for a command-line value, the flag ("--gpus")
	Message string // what was expected and what was found
	Hint    string // optional: how to fix it, e.g. "did you mean \"accelerators\"?"
}

// Error renders "file:line:col: path: message (hint)", leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	if s := e.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// ErrorList is every problem found in a file, sorted by position. It is the error Load returns for an invalid file.
type ErrorList []*Error

// Error lists every error, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortAndDedup orders the errors by position and drops exact repeats (a top-level resources field merged into
// several any_of candidates would otherwise be reported once per candidate).
func (l ErrorList) sortAndDedup() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Pos != l[j].Pos {
			return l[i].Pos.before(l[j].Pos)
		}
		return l[i].Message < l[j].Message
	})
	out := l[:0]
	for i, e := range l {
		if i > 0 && e.Pos == l[i-1].Pos && e.Message == l[i-1].Message {
			continue
		}
		out = append(out, e)
	}
	return out
}

// NoticeKind classifies a Notice.
type NoticeKind string

// Kinds of notices. None of them makes a file invalid.
const (
	// NoticeDeprecated: a key or form that still works but has a newer spelling.
	NoticeDeprecated NoticeKind = "deprecated"
	// NoticeMissingEnv: an env declared without a value; it must be given with --env at launch.
	NoticeMissingEnv NoticeKind = "missing-env"
	// NoticeMissingSecret: a secret declared without a value; it must be given with --secret at launch.
	NoticeMissingSecret NoticeKind = "missing-secret"
	// NoticeIncomplete: a placeholder left empty in the file (such as a bucket name) that must be filled in.
	NoticeIncomplete NoticeKind = "incomplete"
)

// Notice is something worth telling the user that does not make the file invalid.
type Notice struct {
	Pos     Pos
	Path    string
	Message string
	Kind    NoticeKind
}

// String renders "file:line:col: kind: path: message".
func (n Notice) String() string {
	var b strings.Builder
	if s := n.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	b.WriteString(n.Kind.label())
	b.WriteString(": ")
	if n.Path != "" {
		b.WriteString(n.Path)
		b.WriteString(": ")
	}
	b.WriteString(n.Message)
	return b.String()
}

func (k NoticeKind) label() string {
	if k == NoticeDeprecated {
		return "deprecated"
	}
	return "note"
}

// sortNotices orders notices by position and drops repeats (a top-level resources key merged into several
// candidates is noticed once per candidate).
func sortNotices(ns []Notice) []Notice {
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].Pos.before(ns[j].Pos) })
	out := ns[:0]
	for i, n := range ns {
		if i > 0 && n == ns[i-1] {
			continue
		}
		out = append(out, n)
	}
	return out
}

// hintError is a value error that carries a fix; the loader moves the hint into Error.Hint.
type hintError struct{ msg, hint string }

func (e *hintError) Error() string {
	if e.hint == "" {
		return e.msg
	}
	return e.msg + " (" + e.hint + ")"
}

// splitHint separates an error's message from its hint.
func splitHint(err error) (msg, hint string) {
	var he *hintError
	if errors.As(err, &he) {
		return he.msg, he.hint
	}
	return err.Error(), ""
}

// suggest returns the candidate closest to word by edit distance, or "" when none is close enough to be a
// plausible typo.
func suggest(word string, candidates []string) string {
	best, bestDist := "", -1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(1, len(word)/3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// didYouMean formats suggest's answer as a hint, or "" when there is none.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

// editDistance is the optimal-string-alignment distance between a and b: insertions, deletions, substitutions
// and transpositions of neighbours each cost 1 (so "hihg" is one edit from "high"). Keys are ASCII.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 { // long keys are never typos of short ones; keep the cost bounded
		return max(len(a), len(b))
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
