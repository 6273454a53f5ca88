package taskflags

import (
	"context"
	"fmt"
	"maps"
	"os"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/spec"
)

// Spec turns the command line into the task sent to the core (api.TaskSpec): the task file's text, read here
// where the file is; --env-file, then --env, which wins over it; --secret; and the overrides. withConfig adds
// the config layers: --config and the project file of the working directory. An empty entrypoint gives a task
// with nothing to run (launch then only provisions).
func (t Task) Spec(withConfig bool) (api.TaskSpec, error) {
	ts := api.TaskSpec{Command: t.Entrypoint.Command, Overrides: t.Overrides, Secrets: t.Secrets}
	env := map[string]string{}
	if t.EnvFile != "" {
		fileEnv, err := spec.ParseEnvFile(t.EnvFile)
		if err != nil {
			return api.TaskSpec{}, err
		}
		maps.Copy(env, fileEnv)
	}
	maps.Copy(env, t.Env)
	if len(env) > 0 {
		ts.Env = env
	}
	if t.Entrypoint.IsYAML() {
		data, err := spec.ReadFileLimited("task file", t.Entrypoint.YAMLPath)
		if err != nil {
			return api.TaskSpec{}, fmt.Errorf("read task file: %w", err)
		}
		ts.YAML, ts.FileName = string(data), t.Entrypoint.YAMLPath
	}
	if withConfig {
		dir, _ := os.Getwd()
		ts.Config = &api.ConfigLayers{Args: t.Config, Dir: dir}
	}
	return ts, nil
}

// Validate has the core read ts as it will at launch, prints the task's notes and the config's warnings on
// s.ErrOut, and returns the first problem found: the task's errors (a pipeline file among them: pipelines run
// as managed jobs), else the config's.
func Validate(ctx context.Context, c api.Client, s *cli.IOStreams, ts api.TaskSpec) error {
	check, err := c.Validate(ctx, ts)
	if err != nil {
		return err
	}
	if err := check.Err(); err != nil {
		return err
	}
	cli.PrintNotices(s, check.Notices)
	if err := check.ConfigErr(); err != nil {
		return err
	}
	for _, w := range check.Warnings {
		fmt.Fprintln(s.ErrOut, s.Paint(cli.Yellow, "Warning: "+w))
	}
	return nil
}
