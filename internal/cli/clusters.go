package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/api"
)

// ClusterAction is one verb applied to a set of clusters: stop, start, down, autostop.
type ClusterAction struct {
	// Verb is the progressive form shown before the work: "Stopping", "Terminating".
	Verb string
	// Confirm asks before acting unless Yes; read-mostly verbs such as autostop leave it false.
	Confirm bool
	Yes     bool
	// Do acts on one cluster and returns what to print on success.
	Do func(ctx context.Context, name string) (string, error)
}

// ForEachCluster expands names and globs (all: every cluster), asks once when the action wants it, then acts on
// each cluster in turn. A failure on one cluster does not stop the others; the command then exits 1.
func ForEachCluster(ctx context.Context, s *IOStreams, c api.Client, patterns []string, all bool, a ClusterAction) error {
	names, err := c.Match(ctx, patterns, all)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintln(s.ErrOut, "No cluster matches; nothing to do.")
		return nil
	}
	if a.Confirm && !a.Yes {
		plural := ""
		if len(names) > 1 {
			plural = "s"
		}
		q := fmt.Sprintf("%s %d cluster%s: %s. Proceed?", a.Verb, len(names), plural, strings.Join(names, ", "))
		if err := ConfirmOrAbort(s, q); err != nil {
			return err
		}
	}
	var failed []error
	for _, name := range names {
		msg, err := a.Do(ctx, name)
		if err != nil {
			fmt.Fprintln(s.ErrOut, s.Paint(Red, failureSymbol+err.Error()))
			failed = append(failed, err)
			continue
		}
		fmt.Fprintln(s.ErrOut, s.Paint(Green, successSymbol+msg))
	}
	if len(failed) > 0 {
		return SilentExit(ExitFailure)
	}
	return nil
}
