package cli_test

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// lazyTree is stix → noun → {verb, inner → leaf}, counting how often each noun's verbs are built.
func lazyTree(built map[string]int) *cobra.Command {
	root := &cobra.Command{Use: "stix"}
	inner := func() []*cobra.Command {
		built["inner"]++
		return []*cobra.Command{{Use: "leaf", Run: func(*cobra.Command, []string) {}}}
	}
	root.AddCommand(cli.NewGroup("noun", "A noun", func() []*cobra.Command {
		built["noun"]++
		return []*cobra.Command{
			{Use: "verb", Run: func(*cobra.Command, []string) {}},
			cli.NewGroup("inner", "A noun inside a noun", inner),
		}
	}))
	return root
}

func TestExpandBuildsOnlyThePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args      []string
		wantBuilt map[string]int
		wantFound string
	}{
		{nil, map[string]int{}, "stix"},
		{[]string{"--help"}, map[string]int{}, "stix"},
		{[]string{"noun"}, map[string]int{"noun": 1}, "noun"},
		{[]string{"noun", "verb", "--flag", "x"}, map[string]int{"noun": 1}, "verb"},
		{[]string{"noun", "inner", "leaf"}, map[string]int{"noun": 1, "inner": 1}, "leaf"},
		{[]string{"other"}, map[string]int{}, "stix"},
	}
	for _, tt := range tests {
		built := map[string]int{}
		root := lazyTree(built)
		cli.Expand(root, tt.args)
		cli.Expand(root, tt.args) // a second call builds nothing twice
		if len(built) != len(tt.wantBuilt) {
			t.Errorf("Expand(%q) built %v, want %v", tt.args, built, tt.wantBuilt)
		}
		for k, n := range tt.wantBuilt {
			if built[k] != n {
				t.Errorf("Expand(%q) built %s %d times, want %d", tt.args, k, built[k], n)
			}
		}
		if c, _, _ := root.Find(tt.args); c.Name() != tt.wantFound {
			t.Errorf("after Expand(%q), Find gives %q, want %q", tt.args, c.Name(), tt.wantFound)
		}
	}
}

func TestExpandAll(t *testing.T) {
	t.Parallel()
	built := map[string]int{}
	root := lazyTree(built)
	cli.ExpandAll(root)
	if built["noun"] != 1 || built["inner"] != 1 {
		t.Fatalf("ExpandAll built %v, want each noun once", built)
	}
	if c, _, err := root.Find([]string{"noun", "inner", "leaf"}); err != nil || c.Name() != "leaf" {
		t.Fatalf("Find after ExpandAll = %v, %v", c.Name(), err)
	}
}
