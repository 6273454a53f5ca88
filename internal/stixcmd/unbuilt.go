package stixcmd

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
)

// unbuiltFlags are SkyPilot flags that stix parses (so that its command lines are accepted) but whose feature is
// not built yet. Given, they fail the command with "not implemented yet" instead of being silently ignored:
// --async would otherwise stream logs a script expected to skip, --config would drop settings.
var unbuiltFlags = []string{"async", "fast", "clone-disk-from", "git-url", "git-ref", "config", "wait-for"}

// builtOn names the verbs on which a flag of unbuiltFlags works already.
var builtOn = map[string][]string{"config": {"stix launch"}}

// refuseUnbuiltFlags runs before every verb.
func refuseUnbuiltFlags(cmd *cobra.Command, _ []string) error {
	for _, name := range unbuiltFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed || isOff(f) || slices.Contains(builtOn[name], cmd.CommandPath()) {
			continue
		}
		return cli.NotImplemented(strings.TrimPrefix(cmd.CommandPath(), "stix ") + " --" + name)
	}
	return nil
}

// isOff reports a flag given with its do-nothing value: --async=false (or --no-async), an empty string.
func isOff(f *pflag.Flag) bool {
	v := f.Value.String()
	return v == "false" || v == "" || v == "[]"
}
