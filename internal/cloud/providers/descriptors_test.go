package providers

import (
	"slices"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
)

// TestDescriptors: every provider declares a check and the display name tables use, and priced clouds take
// their offers from the catalog; New builds every provider that can provision.
func TestDescriptors(t *testing.T) {
	t.Parallel()
	for _, d := range Descriptors() {
		if d.Check == nil {
			t.Errorf("%s declares no credential check", d.Name)
		}
		if got := catalog.DisplayName(d.Name); got != d.Display {
			t.Errorf("%s: Display %q, but catalog.DisplayName says %q", d.Name, d.Display, got)
		}
		if d.New == nil && !d.Catalog && d.Kind == 0 {
			t.Errorf("%s: a priced cloud without a provider must take its offers from the catalog", d.Name)
		}
	}
	r, err := New(Config{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	for _, p := range r.All() {
		built = append(built, p.Name())
	}
	if want := []string{"aws", "gcp", "azure", "lambda", "runpod", "paperspace", "do", "nebius", "kubernetes", "ssh", "docker", "local"}; !slices.Equal(built, want) {
		t.Errorf("built providers %v, want %v", built, want)
	}
}
