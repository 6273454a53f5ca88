package policy

import (
	"bytes"
	"context"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/spec"
)

// Input is one request as the core read it.
type Input struct {
	// Task is the task with the command line's overrides applied; Config is the request's merged config.
	Task    *spec.Task
	Config  *config.Config
	Name    string // RequestLaunch or RequestExec
	Options *Options
	User    *User
}

// Admit runs p over in and returns the task and config to run. What the policy left unchanged is returned as
// it was (with the positions of the user's files); what it changed is read as a task file and a config layer
// are, checked in full, with positions in the policy's answer. A rejection is a *Rejected error.
func Admit(ctx context.Context, p Policy, in Input) (*spec.Task, *config.Config, error) {
	tm, err := in.Task.YAMLConfig()
	if err != nil {
		return nil, nil, err
	}
	sentTask, err := yaml.Marshal(tm)
	if err != nil {
		return nil, nil, fmt.Errorf("encode task: %w", err)
	}
	cm := in.Config.ToMap()
	sentConfig, err := yaml.Marshal(cm)
	if err != nil {
		return nil, nil, fmt.Errorf("encode config: %w", err)
	}
	res, err := p.Apply(ctx, Request{Task: tm, Config: cm, Name: in.Name, Options: in.Options, User: in.User})
	if err != nil {
		return nil, nil, err
	}
	task, cfg := in.Task, in.Config
	if !sameYAML(sentTask, res.Task) {
		if task, err = readTask(p.Name(), res.Task, in.Task); err != nil {
			return nil, nil, err
		}
	}
	if !sameYAML(sentConfig, res.Config) {
		if cfg, err = config.Parse(config.LayerPolicy, "admin policy "+p.Name()+" (skypilot_config)", res.Config); err != nil {
			return nil, nil, fmt.Errorf("admin policy %s answered a config stix cannot use; the request was not run:\n%w", p.Name(), err)
		}
	}
	return task, cfg, nil
}

// readTask reads the task a policy answered with. Secrets it kept show the redacted value they were sent with:
// they get the user's values back.
func readTask(policy string, text []byte, orig *spec.Task) (*spec.Task, error) {
	pl, err := spec.Load("admin policy "+policy+" (task)", text, spec.LoadOptions{})
	if err == nil && len(pl.Tasks) != 1 {
		err = fmt.Errorf("%d tasks, want one", len(pl.Tasks))
	}
	if err != nil {
		return nil, fmt.Errorf("admin policy %s answered a task stix cannot run; the request was not run:\n%w", policy, err)
	}
	t := pl.Tasks[0]
	for k, v := range t.Secrets {
		if have, ok := orig.Secrets[k]; ok && v == spec.Redacted {
			t.Secrets[k] = have
		}
	}
	return t, nil
}

// sameYAML reports whether two YAML texts hold the same values.
func sameYAML(a, b []byte) bool {
	na, errA := normalize(a)
	nb, errB := normalize(b)
	return errA == nil && errB == nil && bytes.Equal(na, nb)
}

func normalize(b []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		v = nil // {} and an empty document are the same config
	}
	return yaml.Marshal(v)
}
