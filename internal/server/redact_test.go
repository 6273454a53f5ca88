package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
)

// TestRecordedRequestsKeepNoSecrets: what the server records of a request shows which secrets and credentials
// were sent, never their values; the request itself is left intact for the core.
func TestRecordedRequestsKeepNoSecrets(t *testing.T) {
	t.Parallel()
	task := api.TaskSpec{Command: "ls", Secrets: map[string]string{"HF_TOKEN": "hf-123"},
		Git: &api.GitCredentials{Token: "ghp-456", SSHKey: "-----BEGIN KEY-----"}}
	for _, body := range []any{api.LaunchRequest{Task: task}, api.ExecRequest{Cluster: "c", Task: task}, api.JobsLaunchRequest{Task: task}} {
		b, err := json.Marshal(redacted(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"hf-123", "ghp-456", "BEGIN KEY"} {
			if strings.Contains(string(b), v) {
				t.Errorf("recorded %s", b)
			}
		}
		if !strings.Contains(string(b), `"HF_TOKEN":"\u003credacted\u003e"`) || !strings.Contains(string(b), `"token":"\u003credacted\u003e"`) {
			t.Errorf("recorded %s, want the names kept with redacted values", b)
		}
	}
	if task.Secrets["HF_TOKEN"] != "hf-123" || task.Git.Token != "ghp-456" {
		t.Errorf("redacting changed the request itself: %+v", task)
	}
}

// TestConfigRedaction: the config the dashboard shows keeps every key, and hides the values of credentials and
// of everything under envs: and secrets:.
func TestConfigRedaction(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"api_server": map[string]any{"endpoint": "http://x:46580", "service_account_token": "sky_abc123"},
		"aws":        map[string]any{"vpc_name": "main", "labels": []any{map[string]any{"db_password": "hunter2"}}},
		"envs":       map[string]any{"HF_TOKEN": "hf-xyz", "MODE": "fast"},
		"secrets":    map[string]any{"WANDB": "wb-1"},
		"kubernetes": map[string]any{"private_key_file": ""},
	}
	b, err := json.Marshal(redactConfig(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sky_abc123", "hunter2", "hf-xyz", "fast", "wb-1"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the redacted config shows %q: %s", secret, b)
		}
	}
	for _, kept := range []string{"http://x:46580", `"vpc_name":"main"`, `"HF_TOKEN":"\u003credacted\u003e"`, `"db_password":"\u003credacted\u003e"`, `"private_key_file":""`} {
		if !strings.Contains(string(b), kept) {
			t.Errorf("the redacted config lacks %s: %s", kept, b)
		}
	}
	if in["envs"].(map[string]any)["HF_TOKEN"] != "hf-xyz" {
		t.Error("redactConfig changed its input")
	}
}
