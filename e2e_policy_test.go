package stix_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"
)

// policyserver VAR mutate|reject starts a RESTful admin policy server on loopback that speaks SkyPilot's wire
// format (docs/admin-policy.md) and sets VAR to its URL. mutate adds the label team=ml and the env
// POLICY_SEEN=yes to the task; reject answers 400 with a message. It stops when the script ends.
func policyServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "mutate" && args[1] != "reject") {
		ts.Fatalf("usage: policyserver VAR mutate|reject")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if args[1] == "reject" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`"launches need a team label"`))
			return
		}
		body, _ := io.ReadAll(r.Body)
		var inner string
		var req struct {
			Task   string `json:"task"`
			Config string `json:"skypilot_config"`
		}
		var task map[string]any
		if json.Unmarshal(body, &inner) != nil || json.Unmarshal([]byte(inner), &req) != nil || yaml.Unmarshal([]byte(req.Task), &task) != nil {
			http.Error(w, "cannot read the request", http.StatusInternalServerError)
			return
		}
		res, _ := task["resources"].(map[string]any)
		if res == nil {
			res = map[string]any{}
		}
		res["labels"] = map[string]any{"team": "ml"}
		task["resources"] = res
		envs, _ := task["envs"].(map[string]any)
		if envs == nil {
			envs = map[string]any{}
		}
		envs["POLICY_SEEN"] = "yes"
		task["envs"] = envs
		out, _ := yaml.Marshal(task)
		answer, _ := json.Marshal(map[string]string{"task": string(out), "skypilot_config": req.Config})
		quoted, _ := json.Marshal(string(answer))
		_, _ = w.Write(quoted)
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}
