package stixcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
)

// TestBucketOfConfigLayers: the intermediate bucket is read through the config layers (user file, project file,
// the task's `config:`, --config), each later one winning; `force_disable_cloud_bucket: true` turns it off (the
// upload route is used); a service reads `serve.bucket`.
func TestBucketOfConfigLayers(t *testing.T) {
	home, proj := t.TempDir(), t.TempDir()
	write := func(p, body string) {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, "config.yaml"), "jobs:\n  bucket: s3://user-bucket/p\n")
	env := map[string]string{"HOME": t.TempDir()}
	s := serverControl{getenv: func(k string) string { return env[k] }, home: func() (string, error) { return home, nil }}
	bucket := func(ts api.TaskSpec, controller string) string {
		t.Helper()
		b, err := s.bucketOf(ts, controller)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return ""
		}
		return b.uri.String()
	}
	plain := api.TaskSpec{Command: "ls", Config: &api.ConfigLayers{Dir: proj}}
	if got := bucket(plain, jobsController); got != "s3://user-bucket/p" {
		t.Errorf("user config: %q", got)
	}
	if got := bucket(plain, serveController); got != "" {
		t.Errorf("a service with only jobs.bucket: %q, want none", got)
	}
	write(filepath.Join(proj, ".stix.yaml"), "jobs:\n  bucket: s3://project-bucket\nserve:\n  bucket: gs://svc-bucket\n")
	if got := bucket(plain, jobsController); got != "s3://project-bucket" {
		t.Errorf("project config: %q", got)
	}
	if got := bucket(plain, serveController); got != "gs://svc-bucket" {
		t.Errorf("serve.bucket: %q", got)
	}
	// A task's `config:` may not set it (as in SkyPilot, jobs.* is not among a task's keys): the error says so.
	bad := api.TaskSpec{FileName: "t.yaml", YAML: "config:\n  jobs:\n    bucket: r2://task-bucket\nrun: ls\n", Config: &api.ConfigLayers{Dir: proj}}
	if _, err := s.bucketOf(bad, jobsController); err == nil || !strings.Contains(err.Error(), "t.yaml:2:3: config.jobs: a task's config: cannot set jobs") {
		t.Errorf("a task's config setting jobs.bucket: %v", err)
	}
	task := api.TaskSpec{FileName: "t.yaml", YAML: "config:\n  docker:\n    run_options: [--rm]\nrun: ls\n", Config: &api.ConfigLayers{Dir: proj}}
	if got := bucket(task, jobsController); got != "s3://project-bucket" {
		t.Errorf("with a task config: %q", got)
	}
	task.Config.Args = []string{"jobs.bucket=s3://cli-bucket"}
	if got := bucket(task, jobsController); got != "s3://cli-bucket" {
		t.Errorf("--config: %q", got)
	}
	task.Config.Args = []string{"jobs.force_disable_cloud_bucket=true"}
	if got := bucket(task, jobsController); got != "" {
		t.Errorf("force_disable_cloud_bucket: %q, want none", got)
	}
	// A bad URI is the config's error, with the key.
	task.Config.Args = []string{"jobs.bucket=s3://Bad_Name"}
	if _, err := s.bucketOf(task, jobsController); err == nil {
		t.Error("a bad bucket URI was accepted")
	}
}
