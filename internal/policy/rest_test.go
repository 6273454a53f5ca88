package policy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/spec"
)

func loadTask(t *testing.T, text string) *spec.Task {
	t.Helper()
	p, err := spec.Load("task.yaml", []byte(text), spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Tasks[0]
}

func loadConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(config.LayerUser, "config.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// decodeUserRequest reads a request body as SkyPilot's UserRequest.decode does: a JSON string holding the JSON
// of the request, whose task and config are YAML.
func decodeUserRequest(t *testing.T, r *http.Request) (userRequest, map[string]any, map[string]any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	var inner string
	if err := json.Unmarshal(body, &inner); err != nil {
		t.Errorf("the body is not a JSON string: %v: %s", err, body)
	}
	var ur userRequest
	if err := json.Unmarshal([]byte(inner), &ur); err != nil {
		t.Errorf("the body's string is not a user request: %v", err)
	}
	var task, cfg map[string]any
	if err := yaml.Unmarshal([]byte(ur.Task), &task); err != nil {
		t.Error(err)
	}
	if err := yaml.Unmarshal([]byte(ur.SkyPilotConfig), &cfg); err != nil {
		t.Error(err)
	}
	return ur, task, cfg
}

// answer writes a mutated request as SkyPilot's example server does: JSONResponse(content=encode()).
func answer(t *testing.T, w http.ResponseWriter, task, cfg map[string]any) {
	tb, _ := yaml.Marshal(task)
	cb, _ := yaml.Marshal(cfg)
	inner, _ := json.Marshal(map[string]string{"task": string(tb), "skypilot_config": string(cb)})
	out, _ := json.Marshal(string(inner))
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(out); err != nil {
		t.Error(err)
	}
}

const secretTask = "name: t\nresources:\n  cpus: 2\nsecrets:\n  TOKEN: s3cret\nrun: echo hi\n"

// A policy server that adds a label and sets autostop: the mutated task is what comes back, the user's secret
// never leaves, and the request carries SkyPilot's fields.
func TestRESTMutates(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ur, task, cfg := decodeUserRequest(t, r)
		if ur.RequestName != RequestLaunch || ur.AtClientSide || ur.RequestOptions == nil ||
			ur.RequestOptions.ClusterName == nil || *ur.RequestOptions.ClusterName != "dev" || !strings.Contains(ur.User, "name: alice") {
			t.Errorf("request fields: %+v options %+v", ur, ur.RequestOptions)
		}
		if strings.Contains(ur.Task, "s3cret") {
			t.Errorf("the secret's value was sent: %s", ur.Task)
		}
		res := task["resources"].(map[string]any)
		res["labels"] = map[string]any{"team": "ml"}
		res["autostop"] = map[string]any{"idle_minutes": 15}
		answer(t, w, task, cfg)
	}))
	defer srv.Close()
	cfg := loadConfig(t, "admin_policy: "+srv.URL+"\n")
	p, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := "dev"
	task, gotCfg, err := Admit(context.Background(), p, Input{Task: loadTask(t, secretTask), Config: cfg, Name: RequestLaunch,
		Options: &Options{ClusterName: &name}, User: &User{ID: "alice", Name: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if task.Resources.Labels["team"] != "ml" || task.Resources.Autostop == nil || task.Resources.Autostop.IdleMinutes != 15 {
		t.Errorf("mutated task %s", task)
	}
	if task.Secrets["TOKEN"] != "s3cret" {
		t.Errorf("the secret was not restored: %q", task.Secrets["TOKEN"])
	}
	if gotCfg != cfg {
		t.Errorf("an unchanged config should be kept as it was, with its positions")
	}
}

// A policy that changes the config: the request runs with the config it answered, read as a layer.
func TestRESTMutatesConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, task, cfg := decodeUserRequest(t, r)
		cfg["allowed_clouds"] = []any{"local"}
		answer(t, w, task, cfg)
	}))
	defer srv.Close()
	cfg := loadConfig(t, "admin_policy: "+srv.URL+"\n")
	p, _ := FromConfig(cfg)
	orig := loadTask(t, secretTask)
	task, got, err := Admit(context.Background(), p, Input{Task: orig, Config: cfg, Name: RequestLaunch, Options: &Options{}})
	if err != nil {
		t.Fatal(err)
	}
	if task != orig {
		t.Errorf("an unchanged task should be kept as it was")
	}
	if c := got.AllowedClouds(); len(c) != 1 || c[0] != "local" {
		t.Errorf("allowed_clouds = %v", c)
	}
	if o, _ := got.Origin("allowed_clouds"); o.Layer != config.LayerPolicy {
		t.Errorf("origin %+v", o)
	}
}

// Every way a policy server can fail fails the request, clearly, and nothing runs unmutated.
func TestRESTFailures(t *testing.T) {
	release := make(chan struct{}) // closed before the servers close, so that no handler is left waiting
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		policy  func(url string) *REST
		want    string
		reject  bool
	}{
		{name: "rejects", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`"GPU tasks must use spot instances"`))
		}, want: ": GPU tasks must use spot instances", reject: true},
		{name: "rejects in plain text", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no launches on Fridays", http.StatusBadRequest)
		}, want: ": no launches on Fridays", reject: true},
		{name: "garbage", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>hello</html>"))
		}, want: "answered something stix cannot read"},
		{name: "no task", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"skypilot_config": ""}`))
		}, want: `"task" or "skypilot_config" is missing`},
		{name: "invalid task", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"task": "run: echo\nnum_nodes: many\n", "skypilot_config": ""}`))
		}, want: "(task):2:12: num_nodes:"},
		{name: "invalid config", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"task": "run: echo\n", "skypilot_config": "alowed_clouds: [aws]\n"}`))
		}, want: `(skypilot_config):1:1: alowed_clouds: unknown key`},
		{name: "server error", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, want: "answered 500 Internal Server Error: boom"},
		{name: "oversized", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`"` + strings.Repeat("x", DefaultMaxAnswer) + `"`))
		}, want: "answered more than 8388608 bytes"},
		{name: "slow", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body) // the server notices a client gone only after the body is read
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}, policy: func(url string) *REST { return &REST{URL: url, Timeout: 50 * time.Millisecond} }, want: "did not answer within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			if tc.name == "slow" {
				defer close(release)
			}
			var p Policy = NewREST(srv.URL)
			if tc.policy != nil {
				p = tc.policy(srv.URL)
			}
			_, _, err := Admit(context.Background(), p, Input{Task: loadTask(t, secretTask), Config: &config.Config{}, Name: RequestLaunch})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			var rej *Rejected
			if errors.As(err, &rej) != tc.reject {
				t.Errorf("rejection = %v, want %v", !tc.reject, tc.reject)
			}
		})
	}
}

// A policy server that is down fails the request at once.
func TestRESTDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := Admit(context.Background(), NewREST(url), Input{Task: loadTask(t, secretTask), Config: &config.Config{}, Name: RequestExec})
	if err == nil || !strings.Contains(err.Error(), "cannot be reached; the request was not run") {
		t.Fatalf("got %v", err)
	}
}
