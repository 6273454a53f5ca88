package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/upload"
)

// TestOpenAPIMatchesRoutes: api/openapi.yaml documents exactly the routes the server registers, each path with
// its methods.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	dir := t.TempDir()
	s, err := server.New(context.Background(), server.Options{Dir: dir, Client: newCore(),
		Uploads: upload.NewHandler(filepath.Join(dir, "uploads"), upload.Limits{}), UploadRoutes: upload.Routes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	registered := slices.Clone(s.Routes())
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Errorf("api/openapi.yaml documents\n  %s\nthe server registers\n  %s", strings.Join(documented, "\n  "), strings.Join(registered, "\n  "))
	}
}
