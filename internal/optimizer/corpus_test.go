package optimizer_test

import (
	"errors"
	"github.com/stix-run/stix/internal/testutil"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/optimizer"
	"github.com/stix-run/stix/internal/spec"
)

// corpusDir finds ../shared/compat/skypilot-yamls beside the module root.
func corpusDir(t *testing.T) string {
	t.Helper()
	return testutil.SharedDir(t, "compat/skypilot-yamls")
}

// TestCorpusPlans plans every task file of the public SkyPilot corpus against the snapshot: each either plans
// or fails with an explanation (no resources, or a place the catalog does not have) — never a crash or any
// other error. Files that do not load are skipped (the spec package's corpus test covers them).
func TestCorpusPlans(t *testing.T) {
	_, srcs := snapshotSources(t)
	cat, _ := snapshotSources(t)
	root := corpusDir(t)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var planned, noResources, badPlace, skipped int
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		p, err := spec.LoadFile(f, spec.LoadOptions{})
		if err != nil || len(p.Tasks) == 0 {
			skipped++
			continue
		}
		plan, ex, err := optimizer.Optimize(optimizer.Problem{Tasks: optimizer.FromPipeline(p, cat), Sources: srcs})
		var nr *optimizer.NoResourcesError
		var le *catalog.LocationError
		switch {
		case err == nil:
			if plan == nil || len(plan.Tasks) != len(p.Tasks) || ex == nil {
				t.Errorf("%s: plan without every task", rel)
			}
			planned++
		case errors.As(err, &nr):
			if !strings.Contains(err.Error(), "To fix:") || len(nr.Explanation.Rejected) == 0 {
				t.Errorf("%s: no-resources error without an explanation: %v", rel, err)
			}
			noResources++
		case errors.As(err, &le):
			badPlace++
		default:
			t.Errorf("%s: unexpected error: %v", rel, err)
		}
	}
	t.Logf("corpus: %d files planned, %d without resources in the snapshot, %d naming a place it lacks, %d skipped (not loadable)",
		planned, noResources, badPlace, skipped)
	if planned == 0 {
		t.Error("no corpus file planned")
	}
}
