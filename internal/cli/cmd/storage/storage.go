// Package storage builds `stix storage`: buckets that stix created for tasks.
package storage

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/storage/delete"
	"github.com/stix-run/stix/internal/cli/cmd/storage/ls"
)

// NewCmdStorage builds `stix storage` and its verbs.
func NewCmdStorage(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("storage", "Storage buckets created by stix", func() []*cobra.Command {
		return []*cobra.Command{
			ls.NewCmdLs(f, nil),
			delete.NewCmdDelete(f, nil),
		}
	})
}
