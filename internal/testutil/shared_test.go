package testutil

import (
	"fmt"
	"strings"
	"testing"
)

// fatalRecorder records the message of Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper()                        {}
func (r *fatalRecorder) Fatal(args ...any)              { r.msg = fmt.Sprint(args...) }
func (r *fatalRecorder) Fatalf(format string, a ...any) { r.msg = fmt.Sprintf(format, a...) }

// TestSharedDirSaysWhyItIsMissing: on a clone without ../shared, a test that needs it says what it reads and how
// to provide it.
func TestSharedDirSaysWhyItIsMissing(t *testing.T) {
	t.Parallel()
	r := &fatalRecorder{TB: t}
	SharedDir(r, "no-such-dir-for-this-test")
	for _, want := range []string{"not part of the repository", "no-such-dir-for-this-test is missing", "../shared beside your clone"} {
		if !strings.Contains(r.msg, want) {
			t.Errorf("message %q lacks %q", r.msg, want)
		}
	}
}
