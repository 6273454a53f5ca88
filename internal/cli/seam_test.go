package cli_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// clientSide are the internal packages the commands may import besides api: what runs on the client whatever
// the core is. spec reads the user's files (task YAML, --env-file) and checks flag values; catalog names infra
// for display; credentials lists the infra names `stix check` accepts. Everything else (the store, providers,
// the cluster manager, config) is the core's, reached through api.Client.
var clientSide = []string{
	"github.com/stix-run/stix/api",
	"github.com/stix-run/stix/internal/cli",
	"github.com/stix-run/stix/internal/spec",
	"github.com/stix-run/stix/internal/catalog",
	"github.com/stix-run/stix/internal/cloud/credentials",
}

// TestCommandsReachTheCoreOnlyThroughTheClient fails when a command imports a core package: the CLI must work
// the same over the embedded core and over an API server.
func TestCommandsReachTheCoreOnlyThroughTheClient(t *testing.T) {
	t.Parallel()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, "github.com/stix-run/stix/") || allowed(p) {
				continue
			}
			t.Errorf("%s imports %s: reach the core through api.Client instead", path, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// allowed reports whether p is one of clientSide or a package of the CLI itself.
func allowed(p string) bool {
	return slices.Contains(clientSide, p) || strings.HasPrefix(p, "github.com/stix-run/stix/internal/cli/")
}
