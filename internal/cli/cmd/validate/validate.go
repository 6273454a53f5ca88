// Package validate implements `stix validate`: a linter for SkyPilot task YAMLs.
package validate

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/spec"
)

// Options are the parsed flags and arguments of `stix validate`.
type Options struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Files  []string

	// Load carries the --env, --env-file and --secret values, already resolved.
	Load spec.LoadOptions
	// JSON selects the machine-readable output (-o json).
	JSON bool
}

// NewCmdValidate builds `stix validate`. runF, when not nil, replaces the real run (the test seam).
func NewCmdValidate(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	var envs, secrets []string
	var envFile, output string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check task YAML files and report every problem with its position",
		Long: "Check SkyPilot task YAML files without launching anything. Every problem of a file is reported at\n" +
			"once as file:line:col: key.path: message. Deprecated keys and envs that must be given at launch\n" +
			"are reported as notes and do not make a file invalid. Exits 0 when every file is valid, 1 otherwise.",
		Example: "  stix validate task.yaml\n" +
			"  stix validate --env HF_TOKEN serve.yaml\n" +
			"  stix validate -o json examples/*.yaml",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			switch output {
			case "", "text":
			case "json":
				opts.JSON = true
			default:
				return cli.FlagErrorf("invalid --output %q: expected text or json", output)
			}
			var err error
			if opts.Load.Env, err = envValues(f, "--env", envs, envFile); err != nil {
				return err
			}
			if opts.Load.Secrets, err = envValues(f, "--secret", secrets, ""); err != nil {
				return err
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return validateRun(opts)
		},
	}
	cmd.Flags().StringArrayVar(&envs, "env", nil, "Env for the task: `KEY=VALUE`, or KEY to take the value from the local environment (repeatable)")
	cmd.Flags().StringVar(&envFile, "env-file", "", "Read envs from a dotenv `FILE`; --env values win over it")
	cmd.Flags().StringArrayVar(&secrets, "secret", nil, "Secret for the task: `KEY=VALUE` or KEY, like --env (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "Output `format`: text or json")
	return cmd
}

// envValues resolves --env/--secret values: KEY=VALUE as given, KEY alone from the local environment, over the
// values of an env file.
func envValues(f *cli.Factory, flag string, given []string, envFile string) (map[string]string, error) {
	out := map[string]string{}
	if envFile != "" {
		fileVals, err := spec.ParseEnvFile(envFile)
		if err != nil {
			return nil, cli.FlagErrorf("--env-file: %v", err)
		}
		for k, v := range fileVals {
			out[k] = v
		}
	}
	for _, kv := range given {
		key, val, ok := strings.Cut(kv, "=")
		if !spec.ValidEnvName(key) {
			return nil, cli.FlagErrorf("%s %s: invalid name %q: names start with a letter or _ and hold only letters, digits and _", flag, kv, key)
		}
		if !ok {
			if f.Getenv != nil {
				val = f.Getenv(key)
			}
			if val == "" {
				return nil, cli.FlagErrorf("%s %s: %s is not set in the local environment; give %s %s=VALUE", flag, key, key, flag, key)
			}
		}
		out[key] = val
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// fileResult is the outcome of one file, as -o json prints it.
type fileResult struct {
	File    string           `json:"file"`
	Valid   bool             `json:"valid"`
	Tasks   int              `json:"tasks"`
	Errors  []errorJSON      `json:"errors"`
	Notices []noticeJSON     `json:"notices"`
	list    []api.TaskError  // for the text output
	notes   []api.TaskNotice // for the text output
}

type errorJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

type noticeJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func validateRun(opts *Options) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	results := make([]fileResult, 0, len(opts.Files))
	allValid := true
	for _, file := range opts.Files {
		r, err := check(opts.Ctx, client, file, opts.Load)
		if err != nil {
			return err
		}
		allValid = allValid && r.Valid
		results = append(results, r)
	}
	if opts.JSON {
		if err := cli.ExportJSON(opts.IO.Out, results); err != nil {
			return err
		}
	} else {
		printText(opts.IO, results)
	}
	if !allValid {
		return cli.SilentExit(cli.ExitFailure)
	}
	return nil
}

// check has the core read one file (read here, where it is) and gathers its errors and notices; each task's
// config: section is checked as launch checks it. The error is for a core that could not be asked.
func check(ctx context.Context, client api.Client, file string, load spec.LoadOptions) (fileResult, error) {
	r := fileResult{File: file, Errors: []errorJSON{}, Notices: []noticeJSON{}}
	data, err := spec.ReadFileLimited("task file", file)
	if err != nil { // an unreadable file
		r.list = []api.TaskError{{File: file, Message: err.Error(), Text: file + ": " + err.Error()}}
	} else {
		c, err := client.Validate(ctx, api.TaskSpec{YAML: string(data), FileName: file, Env: load.Env,
			Secrets: load.Secrets, Pipeline: true})
		if err != nil {
			return r, err
		}
		r.Tasks, r.list, r.notes = c.Tasks, c.Errors, c.Notices
	}
	r.Valid = len(r.list) == 0
	for _, e := range r.list {
		r.Errors = append(r.Errors, errorJSON{File: e.File, Line: e.Line, Col: e.Col, Path: e.Path, Message: e.Message, Hint: e.Hint})
	}
	for _, n := range r.notes {
		r.Notices = append(r.Notices, noticeJSON{File: n.File, Line: n.Line, Col: n.Col, Path: n.Path, Kind: n.Kind, Message: n.Message})
	}
	return r, nil
}

// printText prints, per file, "OK file (N tasks)" or its positioned errors, then its notes. With several files a
// summary goes to stderr.
func printText(streams *cli.IOStreams, results []fileResult) {
	invalid := 0
	for _, r := range results {
		if r.Valid {
			fmt.Fprintf(streams.Out, "%s %s (%d %s)\n", streams.Paint(cli.Green, "OK"), r.File, r.Tasks, plural(r.Tasks, "task", "tasks"))
		} else {
			invalid++
			for _, e := range r.list {
				fmt.Fprintln(streams.Out, streams.Paint(cli.Red, e.Error()))
			}
		}
		for _, n := range r.notes {
			fmt.Fprintln(streams.Out, streams.Paint(cli.Yellow, n.String()))
		}
	}
	if len(results) > 1 {
		summary(streams.ErrOut, len(results), invalid)
	}
}

func summary(w io.Writer, total, invalid int) {
	if invalid == 0 {
		fmt.Fprintf(w, "%d files valid\n", total)
		return
	}
	fmt.Fprintf(w, "%d of %d files invalid\n", invalid, total)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
