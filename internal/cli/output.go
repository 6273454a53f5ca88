package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// OutputFormat is the value of a listing verb's -o/--output flag. The zero value means the table.
type OutputFormat string

// The output formats every listing verb accepts.
const (
	OutputTable OutputFormat = "table"
	OutputJSON  OutputFormat = "json"
)

// AddOutputFlag registers -o/--output on cmd, bound to p. Any value other than table or json is a usage error.
func AddOutputFlag(cmd *cobra.Command, p *OutputFormat) {
	*p = OutputTable
	cmd.Flags().VarP(p, "output", "o", "Output format: table or json")
}

// IsJSON reports whether -o json was asked for.
func (o OutputFormat) IsJSON() bool { return o == OutputJSON }

// Write prints data with ExportJSON when -o json was given, and otherwise calls table to print the human form.
func (o OutputFormat) Write(s *IOStreams, data any, table func() error) error {
	if o.IsJSON() {
		return ExportJSON(s.Out, data)
	}
	return table()
}

// String implements pflag.Value.
func (o *OutputFormat) String() string {
	if *o == "" {
		return string(OutputTable)
	}
	return string(*o)
}

// Set implements pflag.Value.
func (o *OutputFormat) Set(v string) error {
	switch OutputFormat(v) {
	case OutputTable, OutputJSON:
		*o = OutputFormat(v)
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table or json", v)
}

// Type implements pflag.Value.
func (o *OutputFormat) Type() string { return "format" }
