package cli

import (
	"runtime"
	"sync"
	"weak"

	"github.com/spf13/cobra"
)

// Building a command registers its flags, at roughly 1,500 instructions a flag; building every verb of every noun
// for each command line was a fifth of `stix --help`'s start-up. A noun's verbs are therefore built only when a
// command line reaches the noun (Expand), or when the whole tree is wanted (ExpandAll: docs, completion).

// pendingVerbs maps a noun built by NewGroup to the function that builds its verbs, until Expand calls it. Keys are
// weak, so a tree that is dropped unexpanded (tests build many) takes its entries with it.
var pendingVerbs sync.Map // weak.Pointer[cobra.Command] -> func() []*cobra.Command

// NewGroup builds a noun command (jobs, serve, ...) that only holds verbs: alone it prints its help, and an
// unknown verb is a usage error (exit 2) rather than a silent help page. The verbs are built on first need (see
// Expand).
func NewGroup(use, short string, verbs func() []*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	key := weak.Make(cmd)
	pendingVerbs.Store(key, verbs)
	runtime.AddCleanup(cmd, func(k weak.Pointer[cobra.Command]) { pendingVerbs.Delete(k) }, key)
	return cmd
}

// expand builds cmd's verbs if they are still pending, and reports whether it did.
func expand(cmd *cobra.Command) bool {
	build, ok := pendingVerbs.LoadAndDelete(weak.Make(cmd))
	if !ok {
		return false
	}
	cmd.AddCommand(build.(func() []*cobra.Command)()...)
	return true
}

// Expand builds the pending verbs of every noun on the path that args name from root, so that cobra finds the
// command args ask for, with all its flags.
func Expand(root *cobra.Command, args []string) {
	for {
		cmd, _, err := root.Find(args)
		if err != nil || !expand(cmd) {
			return
		}
	}
}

// ExpandAll builds every pending verb under root.
func ExpandAll(root *cobra.Command) {
	expand(root)
	for _, c := range root.Commands() {
		ExpandAll(c)
	}
}
