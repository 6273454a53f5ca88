package showgpus

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/catalog/catalogtest"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
)

// BenchmarkShowGPUs runs the listing and one accelerator's offers over full-size synthetic AWS, GCP and Azure
// catalogs, catalog load included (what a user waits for).
func BenchmarkShowGPUs(b *testing.B) {
	dir := b.TempDir()
	if err := catalogtest.WriteSynthetic(dir, catalogtest.FullSize); err != nil {
		b.Fatal(err)
	}
	client := embedded.New(embedded.Options{Core: cluster.Options{Home: b.TempDir(),
		CatalogSource: func() (catalog.Source, error) { return catalog.Dir(dir), nil },
		EnabledInfra:  func(context.Context) ([]string, error) { return []string{"aws", "gcp", "azure"}, nil },
	}})
	defer client.Close()
	for _, args := range [][]string{{"-a"}, {"A100"}, {"V100", "--all-regions"}} {
		b.Run(strings.Join(args, " "), func(b *testing.B) {
			for b.Loop() {
				s := cli.Test(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
				cmd := NewCmdShowGPUs(&cli.Factory{IOStreams: s, Client: func() (api.Client, error) { return client, nil }}, nil)
				cmd.SetArgs(args)
				cmd.SetOut(&bytes.Buffer{})
				cmd.SetErr(&bytes.Buffer{})
				if err := cmd.ExecuteContext(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
