package taskflags

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
	if (t.GitToken != "" || t.GitSSHKeyPath != "") && t.usesGit(ts) {
		creds, err := gitCredentials(t.GitToken, t.GitSSHKeyPath)
		if err != nil {
			return api.TaskSpec{}, err
		}
		ts.Git = creds
	}
	return ts, nil
}

// usesGit reports whether the task's workdir is a git repository (--git-url, or `workdir: {url: ...}`), so that
// the client's git credentials travel only with a task that needs them. A task that cannot be read says no: the
// core reports its errors.
func (t Task) usesGit(ts api.TaskSpec) bool {
	if t.Overrides.GitURL != nil {
		return true
	}
	if ts.YAML == "" {
		return false
	}
	p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{Env: ts.Env, Secrets: ts.Secrets})
	if err != nil {
		return false
	}
	return slices.ContainsFunc(p.Tasks, func(task *spec.Task) bool { return task.Workdir != nil && task.Workdir.URL != "" })
}

// gitCredentials are the client's GIT_TOKEN and the key GIT_SSH_KEY_PATH names, read here where the key file is;
// the core makes them secrets of a task whose workdir is a git repository, and drops them otherwise.
func gitCredentials(token, keyPath string) (*api.GitCredentials, error) {
	creds := &api.GitCredentials{Token: token}
	if keyPath == "" {
		return creds, nil
	}
	p := keyPath
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("GIT_SSH_KEY_PATH %s: %w", keyPath, err)
		}
		p = filepath.Join(home, rest)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("GIT_SSH_KEY_PATH: %w: set it to the private key that can read the task's git workdir", err)
	}
	creds.SSHKey = string(b)
	return creds, nil
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
