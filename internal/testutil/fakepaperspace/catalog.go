package fakepaperspace

import (
	_ "embed"
	"os"
	"path/filepath"
	"testing"
)

// Catalog is a Paperspace catalog for tests, in the columns of SkyPilot's paperspace/vms.csv (stix's own rows,
// not Paperspace's prices): the CPU machine C5 in the three regions, cheapest in East Coast (NY2), then West
// Coast (CA1), then Europe (AMS1); A4000 in all three, A100-80G in NY2 and AMS1, H100x8 in NY2 only.
//
//go:embed testdata/vms.csv
var Catalog string

// Regions are the catalog's regions, cheapest first for C5.
var Regions = []string{"East Coast (NY2)", "West Coast (CA1)", "Europe (AMS1)"}

// CatalogTypes are the machine types of Catalog where it offers them: what New offers to match it.
var CatalogTypes = []Type{
	{Name: "C5", Regions: Regions},
	{Name: "A4000", Regions: Regions},
	{Name: "A100-80G", Regions: []string{"East Coast (NY2)", "Europe (AMS1)"}},
	{Name: "H100x8", Regions: []string{"East Coast (NY2)"}},
}

// WriteCatalog writes Catalog as dir/paperspace/vms.csv, for STIX_CATALOG_DIR=dir.
func WriteCatalog(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "paperspace"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "paperspace", "vms.csv"), []byte(Catalog), 0o644); err != nil {
		t.Fatal(err)
	}
}
