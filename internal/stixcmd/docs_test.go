package stixcmd_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/stixcmd"
)

var update = flag.Bool("update", false, "rewrite the generated command reference in docs/cli.md")

const (
	docsPath  = "../../docs/cli.md"
	beginMark = "<!-- BEGIN GENERATED: go test ./internal/stixcmd -run TestDocs -update -->\n"
	endMark   = "<!-- END GENERATED -->\n"
	docsIntro = "Generated from the command tree; edit the commands, then refresh with `-update`.\n"
)

// TestDocs keeps docs/cli.md's command reference equal to the command tree: every verb, flag and default.
func TestDocs(t *testing.T) {
	t.Parallel()
	f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}), Version: "dev"}
	var b strings.Builder
	b.WriteString(docsIntro)
	writeCommandDocs(&b, stixcmd.NewRootCmd(f))
	generated := b.String()

	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start, end := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if start < 0 || end < start {
		t.Fatalf("%s lacks the markers %q and %q", docsPath, beginMark, endMark)
	}
	current := doc[start+len(beginMark) : end]
	if current == generated {
		return
	}
	if !*update {
		t.Fatalf("%s is out of date with the command tree; run: go test ./internal/stixcmd -run TestDocs -update", docsPath)
	}
	doc = doc[:start+len(beginMark)] + generated + doc[end:]
	if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeCommandDocs(b *strings.Builder, cmd *cobra.Command) {
	if cmd.Hidden || cmd.Name() == "help" {
		return
	}
	if cmd.HasParent() {
		fmt.Fprintf(b, "\n### %s\n\n%s.\n\n```\n%s\n```\n", cmd.CommandPath(), cmd.Short, cmd.UseLine())
		if cmd.Runnable() && cmd.HasSubCommands() {
			b.WriteString("\nVerbs: ")
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, "`"+c.Name()+"`")
				}
			}
			b.WriteString(strings.Join(names, ", ") + ".\n")
		} else {
			writeFlagTable(b, cmd.LocalNonPersistentFlags())
		}
	}
	for _, c := range cmd.Commands() {
		writeCommandDocs(b, c)
	}
}

func writeFlagTable(b *strings.Builder, fs *pflag.FlagSet) {
	var rows []string
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden || fl.Name == "help" {
			return
		}
		name, usage := pflag.UnquoteUsage(fl)
		spelled := "--" + fl.Name
		if fl.Shorthand != "" {
			spelled = "-" + fl.Shorthand + ", " + spelled
		}
		if name != "" && fl.NoOptDefVal == "" {
			spelled += " " + name
		}
		def := fl.DefValue
		switch def {
		case "", "false", "0", "[]":
			def = ""
		default:
			def = "`" + def + "`"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", spelled, def, strings.ReplaceAll(usage, "|", `\|`)))
	})
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n| flag | default | meaning |\n|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n")
}

// TestDocsTree keeps the hand-drawn command tree at the top of docs/cli.md equal to the command tree: every visible
// verb, at its place, and nothing else.
func TestDocsTree(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "```\nstix\n")
	if start < 0 {
		t.Fatalf("%s lacks the command tree block (```\\nstix\\n...)", docsPath)
	}
	block := doc[start+len("```\nstix\n"):]
	block = block[:strings.Index(block, "```")]
	var inDoc []string
	var stack []string
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		i := strings.Index(line, "── ")
		if i < 0 {
			t.Fatalf("tree line %q has no ── branch", line)
		}
		depth := len([]rune(line[:i])) / 4
		name := strings.Fields(line[i+len("── "):])[0]
		stack = append(stack[:min(depth, len(stack))], name)
		inDoc = append(inDoc, strings.Join(stack, " "))
	}
	f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}), Version: "dev"}
	var inTree []string
	var walk func(*cobra.Command, string)
	walk = func(c *cobra.Command, prefix string) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.Name() == "help" {
				continue
			}
			path := strings.TrimSpace(prefix + " " + sub.Name())
			inTree = append(inTree, path)
			walk(sub, path)
		}
	}
	walk(stixcmd.NewRootCmd(f), "")
	slices.Sort(inDoc)
	slices.Sort(inTree)
	if !slices.Equal(inDoc, inTree) {
		t.Errorf("the tree in %s lists\n  %v\nthe command tree has\n  %v", docsPath, inDoc, inTree)
	}
}
