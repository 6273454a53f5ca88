package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// AddNegatableBool registers the pair --name and --no-name for one setting, like click's "--x/--no-x" options that
// SkyPilot uses (--follow/--no-follow, --use-spot/--no-use-spot). The last one given wins. Whether the user gave
// either one is ChangedPair(fs, name).
func AddNegatableBool(fs *pflag.FlagSet, p *bool, name string, def bool, usage, negUsage string) {
	*p = def
	fs.VarPF(&boolPair{p: p}, name, "", usage).NoOptDefVal = "true"
	neg := fs.VarPF(&boolPair{p: p, negate: true}, "no-"+name, "", negUsage)
	neg.NoOptDefVal = "true"
	// The pair shares one default, shown on --name; --no-name showing "(default true)" would only confuse.
	neg.DefValue = "false"
}

// ChangedPair reports whether --name or --no-name was given.
func ChangedPair(fs *pflag.FlagSet, name string) bool {
	return fs.Changed(name) || fs.Changed("no-"+name)
}

type boolPair struct {
	p      *bool
	negate bool
}

func (b *boolPair) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p != b.negate)
}

func (b *boolPair) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = v != b.negate
	return nil
}

func (b *boolPair) Type() string { return "bool" }

// intPtrFlag is an integer flag that stays nil until the user gives it, for SkyPilot options whose absence differs
// from any value (-i/--idle-minutes-to-autostop, --endpoint, --tail).
type intPtrFlag struct{ p **int }

// AddIntPtr registers an optional integer flag bound to *p.
func AddIntPtr(fs *pflag.FlagSet, p **int, name, short, usage string) {
	fs.VarP(intPtrFlag{p: p}, name, short, usage)
}

func (f intPtrFlag) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.Itoa(**f.p)
}

func (f intPtrFlag) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*f.p = &v
	return nil
}

func (f intPtrFlag) Type() string { return "int" }

// choiceFlag is a string flag limited to a fixed set of values, compared case-insensitively (click.Choice).
type choiceFlag struct {
	p       *string
	choices []string
}

// AddChoice registers a string flag bound to p that accepts only choices; def is its default.
func AddChoice(fs *pflag.FlagSet, p *string, name, short, def string, choices []string, usage string) {
	*p = def
	fs.VarP(&choiceFlag{p: p, choices: choices}, name, short, usage+" (one of: "+strings.Join(choices, ", ")+")")
}

func (f *choiceFlag) String() string { return *f.p }

func (f *choiceFlag) Set(s string) error {
	for _, c := range f.choices {
		if strings.EqualFold(s, c) {
			*f.p = c
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(f.choices, ", "))
}

func (f *choiceFlag) Type() string { return "string" }

// MinArgs requires at least n positional arguments; what names the missing ones in the error, e.g. "CLUSTER".
func MinArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("missing argument %s", what)
		}
		return nil
	}
}

// NoArgs rejects positional arguments; a stray word is most likely a mistyped subcommand.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// MaxArgs allows at most n positional arguments; what names them in the error.
func MaxArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return FlagErrorf("too many arguments: expected at most %d (%s), got %q", n, what, args)
		}
		return nil
	}
}

// RangeArgs requires between lo and hi positional arguments; what names them in the error.
func RangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < lo {
			return FlagErrorf("missing argument %s", what)
		}
		if len(args) > hi {
			return FlagErrorf("too many arguments: expected %s, got %q", what, args)
		}
		return nil
	}
}

// ParseInts parses positional job or replica IDs; what names them in the error.
func ParseInts(args []string, what string) ([]int, error) {
	if len(args) == 0 {
		return nil, nil
	}
	ids := make([]int, len(args))
	for i, a := range args {
		v, err := strconv.Atoi(a)
		if err != nil {
			return nil, FlagErrorf("invalid %s %q: must be an integer", what, a)
		}
		ids[i] = v
	}
	return ids, nil
}

// WaitForModes are the values of --wait-for: what keeps a cluster from counting as idle for autostop.
// jobs_and_ssh (the default) counts running/pending jobs and SSH sessions, jobs counts jobs only, and none makes
// the idle minutes a hard time limit.
var WaitForModes = []string{"jobs_and_ssh", "jobs", "none"}

// AddWaitFor registers --wait-for, the companion of the idle-minutes flag named by idleFlag. Not built yet.
func AddWaitFor(fs *pflag.FlagSet, p *string, idleFlag string) {
	AddChoice(fs, p, "wait-for", "", "", WaitForModes, "What resets the idle timer of "+idleFlag)
	MarkUnbuilt(fs, "wait-for")
}

// AddAsync registers --async/--no-async, SkyPilot's switch to submit a request to the API server and return
// (the verb checks it with CheckAsync and prints the ID with Submitted).
func AddAsync(fs *pflag.FlagSet, p *bool) {
	AddNegatableBool(fs, p, "async", false, "Submit the request to the API server and return without waiting",
		"Wait for the request to finish")
}

// AddAsyncUnbuilt registers --async for a verb whose request is not built yet: given, it fails as not implemented.
func AddAsyncUnbuilt(fs *pflag.FlagSet, p *bool) {
	AddAsync(fs, p)
	MarkUnbuilt(fs, "async")
}

// AddYes registers -y/--yes.
func AddYes(fs *pflag.FlagSet, p *bool) {
	fs.BoolVarP(p, "yes", "y", false, "Skip the confirmation prompt")
}
