package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBuiltins(t *testing.T) {
	for _, tc := range []struct {
		name, config, task string
		request            string
		check              func(t *testing.T, task string, allowed []string)
		reject             string
	}{
		{name: "enforce_autostop sets the default", config: "admin_policy: stix:enforce_autostop\n",
			task: "run: echo\n", check: func(t *testing.T, task string, _ []string) {
				want(t, task, `"autostop":{"enabled":true,"idle_minutes":60}`)
			}},
		{name: "enforce_autostop shortens and keeps shorter", config: "admin_policy: stix:enforce_autostop\nstix_admin_policy:\n  enforce_autostop: {idle_minutes: 30, down: true}\n",
			task: "resources:\n  any_of:\n    - {infra: aws, autostop: 2h}\n    - {infra: gcp, autostop: 10m}\nrun: echo\n", check: func(t *testing.T, task string, _ []string) {
				want(t, task, `"infra":"aws","autostop":{"enabled":true,"idle_minutes":30,"down":true}`)
				want(t, task, `"infra":"gcp","autostop":{"enabled":true,"idle_minutes":10,"down":true}`)
			}},
		{name: "enforce_autostop turns autostop on", config: "admin_policy: stix:enforce_autostop\n",
			task: "resources: {autostop: false}\nrun: echo\n", check: func(t *testing.T, task string, _ []string) {
				want(t, task, `"autostop":{"enabled":true,"idle_minutes":60}`)
			}},
		{name: "enforce_autostop leaves exec alone", config: "admin_policy: stix:enforce_autostop\n", request: RequestExec,
			task: "run: echo\n", check: func(t *testing.T, task string, _ []string) {
				if strings.Contains(task, "autostop") {
					t.Errorf("exec got autostop: %s", task)
				}
			}},
		{name: "require_labels passes", config: "admin_policy: stix:require_labels\nstix_admin_policy:\n  require_labels: {keys: [team]}\n",
			task: "resources: {labels: {team: ml}}\nrun: echo\n", check: func(t *testing.T, task string, _ []string) {}},
		{name: "require_labels rejects", config: "admin_policy: stix:require_labels\nstix_admin_policy:\n  require_labels: {keys: [team, project]}\n",
			task: "resources: {labels: {team: ml}}\nrun: echo\n", reject: "request rejected by admin policy stix:require_labels: the task must set the labels team, project in resources.labels (missing: project)"},
		{name: "restrict_infra narrows allowed_clouds", config: "admin_policy: stix:restrict_infra\nallowed_clouds: [aws, local]\nstix_admin_policy:\n  restrict_infra: {allowed: [local, k8s]}\n",
			task: "run: echo\n", check: func(t *testing.T, _ string, allowed []string) {
				if strings.Join(allowed, ",") != "local" {
					t.Errorf("allowed_clouds %v", allowed)
				}
			}},
		{name: "restrict_infra places a task that names none", config: "admin_policy: stix:restrict_infra\nstix_admin_policy:\n  restrict_infra: {allowed: [aws/us-east-1]}\n",
			task: "run: echo\n", check: func(t *testing.T, task string, allowed []string) {
				want(t, task, `"infra":"aws/us-east-1"`)
			}},
		{name: "restrict_infra allows a zone of a region", config: "admin_policy: stix:restrict_infra\nstix_admin_policy:\n  restrict_infra: {allowed: [gcp, aws/us-east-1]}\n",
			task: "resources: {infra: aws/us-east-1/us-east-1a}\nrun: echo\n", check: func(t *testing.T, task string, allowed []string) {
				if strings.Join(allowed, ",") != "gcp,aws" {
					t.Errorf("allowed_clouds %v", allowed)
				}
			}},
		{name: "restrict_infra rejects", config: "admin_policy: stix:restrict_infra\nstix_admin_policy:\n  restrict_infra: {allowed: [gcp, aws/us-east-1]}\n",
			task: "resources: {infra: aws/us-west-2}\nrun: echo\n", reject: "infra aws/us-west-2 is not allowed; tasks may run only on gcp, aws/us-east-1"},
		{name: "several in order", config: "admin_policy: stix:require_labels,enforce_autostop\nstix_admin_policy:\n  require_labels: {keys: [team]}\n",
			task: "run: echo\n", reject: "missing: team"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, tc.config)
			p, err := FromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			name := tc.request
			if name == "" {
				name = RequestLaunch
			}
			task, got, err := Admit(context.Background(), p, Input{Task: loadTask(t, tc.task), Config: cfg, Name: name, Options: &Options{}})
			if tc.reject != "" {
				var rej *Rejected
				if !errors.As(err, &rej) || !strings.Contains(err.Error(), tc.reject) {
					t.Fatalf("got %v, want a rejection %q", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, task.String(), got.AllowedClouds())
		})
	}
}

func want(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s\ndoes not hold %s", s, sub)
	}
}

// An admin_policy that stix cannot run fails at its position, naming the built-ins.
func TestAdminPolicyErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{"admin_policy: my_company.PolicyV1\n", `config.yaml:1:1: admin_policy: "my_company.PolicyV1" is neither an http(s) URL nor one of stix's built-in policies (stix cannot load SkyPilot's Python policy classes); use a RESTful policy server's URL, or stix:enforce_autostop, stix:require_labels, stix:restrict_infra`},
		{"admin_policy: stix:enforce_autostp\n", `config.yaml:1:1: admin_policy: unknown built-in policy "stix:enforce_autostp"; stix's built-in policies are stix:enforce_autostop, stix:require_labels, stix:restrict_infra`},
		{"admin_policy: stix:restrict_infra\nstix_admin_policy:\n  restrict_infra: {allowed: [awz]}\n", `config.yaml:1:1: admin_policy: stix:restrict_infra: stix_admin_policy.restrict_infra.allowed: unknown cloud "awz"`},
		{"admin_policy: stix:require_labels\n", `stix_admin_policy.require_labels.keys lists no label`},
	} {
		_, err := FromConfig(loadConfig(t, tc.config))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v\nwant %q", tc.config, err, tc.want)
		}
	}
}
