package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// unbuiltAnnotation marks a flag that stix parses, so that SkyPilot's command lines are accepted, but whose feature
// is not built yet.
const unbuiltAnnotation = "stix/unbuilt"

// MarkUnbuilt marks the flag name of fs as parsed but not built: given with a value that asks for its feature, the
// command fails with "not implemented yet" instead of ignoring it (--async would otherwise stream logs a script
// expected to skip, --config would drop settings). Call it where the flag is registered.
func MarkUnbuilt(fs *pflag.FlagSet, name string) {
	if err := fs.SetAnnotation(name, unbuiltAnnotation, []string{"true"}); err != nil {
		panic(err) // a misspelt flag name: a programming error, caught by any test that builds the command
	}
}

// RefuseUnbuiltFlags fails cmd when one of its flags marked by MarkUnbuilt was given with a value other than its
// off value. The root command runs it before every verb.
func RefuseUnbuiltFlags(cmd *cobra.Command, _ []string) error {
	var given *pflag.Flag
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if given == nil && f.Annotations[unbuiltAnnotation] != nil && !isOff(f) {
			given = f
		}
	})
	if given == nil {
		return nil
	}
	return NotImplemented(strings.TrimPrefix(cmd.CommandPath(), "stix ") + " --" + given.Name)
}

// isOff reports a flag given with its do-nothing value: --async=false (or --no-async), an empty string.
func isOff(f *pflag.Flag) bool {
	v := f.Value.String()
	return v == "false" || v == "" || v == "[]"
}

// NotBuilt completes cmd as a verb whose work is not built yet: it parses its arguments and the flags that flags
// registers (bound to nothing, so SkyPilot's command lines parse and the flags show in help), then fails with
// NotImplemented. A verb gets its own package when its run is built.
func NotBuilt(cmd *cobra.Command, flags func(*pflag.FlagSet)) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return NotImplemented(strings.TrimPrefix(cmd.CommandPath(), "stix "))
	}
	if flags != nil {
		flags(cmd.Flags())
	}
	return cmd
}
