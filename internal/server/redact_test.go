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
