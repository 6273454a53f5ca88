package taskflags

import (
	"fmt"
	"maps"
	"os"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/spec"
)

// LoadOne reads the entrypoint as one task and applies the command line to it: --env-file, then --env and
// --secret (which win over the YAML), then the resource and workdir flags, then the git credentials of a git
// workdir. A pipeline file is an error: pipelines run as
// managed jobs. An empty entrypoint gives a task with nothing to run (launch then only provisions).
func (t Task) LoadOne() (*spec.Task, []spec.Notice, error) {
	env := map[string]string{}
	if t.EnvFile != "" {
		fileEnv, err := spec.ParseEnvFile(t.EnvFile)
		if err != nil {
			return nil, nil, err
		}
		maps.Copy(env, fileEnv)
	}
	maps.Copy(env, t.Env)

	var task *spec.Task
	var notices []spec.Notice
	if t.Entrypoint.IsYAML() {
		p, err := spec.LoadFile(t.Entrypoint.YAMLPath, spec.LoadOptions{Env: env, Secrets: t.Secrets})
		if err != nil {
			return nil, nil, err
		}
		if len(p.Tasks) != 1 {
			return nil, nil, fmt.Errorf("%s is a pipeline of %d tasks: run it with `stix jobs launch %s`", t.Entrypoint.YAMLPath, len(p.Tasks), t.Entrypoint.YAMLPath)
		}
		task, notices = p.Tasks[0], p.Notices
	} else {
		task = spec.FromCommand(t.Entrypoint.Command)
		if len(env) > 0 {
			task.Envs = env
		}
		if len(t.Secrets) > 0 {
			task.Secrets = maps.Clone(t.Secrets)
		}
	}
	if err := task.ApplyOverrides(t.Overrides); err != nil {
		return nil, nil, err
	}
	if err := task.AddGitSecrets(t.GitToken, t.GitSSHKeyPath); err != nil {
		return nil, nil, err
	}
	return task, notices, nil
}

// LoadConfig reads the config layers of this command line (see package config): the user and project files,
// the task's `config:` section (task is what LoadOne returned) and --config. Each warning about a key stix does not
// act on yet goes to s.ErrOut. stixHome is $STIX_HOME; getenv reads STIX_CONFIG.
func (t Task) LoadConfig(s *cli.IOStreams, stixHome string, getenv func(string) string, task *spec.Task) (*config.Config, error) {
	in := config.Inputs{StixHome: stixHome, Getenv: getenv, CLI: t.Config, TaskFile: t.Entrypoint.YAMLPath, TaskConfig: task.ConfigNode()}
	in.Home, _ = os.UserHomeDir()
	in.Cwd, _ = os.Getwd()
	cfg, err := config.Load(in)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(s.ErrOut, s.Paint(cli.Yellow, "Warning: "+w.String()))
	}
	return cfg, nil
}
