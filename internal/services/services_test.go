package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithAgent(m)) }

// world is a serve controller over a real embedded core whose only infra is local (replicas are stix-agent
// nodes on this machine, each with its own loopback address) and a real SQLite store.
type world struct {
	home string
	core *embedded.Client
	st   store.Store
	ctl  *Controller
	opts Options
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldIn(t, t.TempDir(), []string{})
}

// newWorldIn is newWorld over a stix home the test prepared, with the infra given enabled.
func newWorldIn(t *testing.T, home string, enabled []string) *world {
	t.Helper()
	cat := testutil.SharedDir(t, "catalogs/v7")
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home, User: "tester", DBOrigin: "the test",
		EnabledInfra:  func(context.Context) ([]string, error) { return enabled, nil },
		CatalogSource: func() (catalog.Source, error) { return catalog.Dir(cat), nil }}})
	st, err := store.OpenAt(context.Background(), store.Location{Home: home, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{home: home, core: core, st: st, opts: Options{Core: core, State: st, Dir: filepath.Join(home, "server"),
		ProbeInterval: 100 * time.Millisecond, Scan: 200 * time.Millisecond, CallTimeout: 30 * time.Second}}
	w.start(t)
	t.Cleanup(func() {
		w.ctl.Close()
		ctx := context.Background()
		cs, _ := core.Status(ctx, nil, false)
		for _, c := range cs {
			if _, err := api.Wait(core.Down(ctx, c.Name, true)); err != nil {
				t.Errorf("cleanup: down %s: %v", c.Name, err)
			}
		}
		core.Close()
		st.Close()
	})
	return w
}

func (w *world) start(t *testing.T) {
	t.Helper()
	ctl, err := New(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start()
	w.ctl = ctl
}

// webService is a service whose replicas run Python's HTTP server on their node's address, each serving a
// file "id" that holds its SKYPILOT_SERVE_REPLICA_ID, and record the server's PID under dir.
func webService(dir string, replicas int) string {
	return fmt.Sprintf(`name: web
service:
  readiness_probe: /id
  replicas: %d
resources:
  ports: 8080
envs:
  DIR: %s
run: |
  d=$DIR/r$SKYPILOT_SERVE_REPLICA_ID
  mkdir -p $d && echo $SKYPILOT_SERVE_REPLICA_ID > $d/id
  python3 -m http.server 8080 --bind "$(echo "$SKYPILOT_NODE_IPS" | head -n1)" --directory $d &
  echo $! > $d/pid
  wait
`, replicas, dir)
}

// waitFor polls the service's status until ok accepts it.
func waitFor(t *testing.T, w *world, name, what string, ok func(api.Service) bool) api.Service {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last []api.Service
	for time.Now().Before(deadline) {
		ss, err := w.ctl.ServeStatus(context.Background(), []string{name})
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ok(ss[0]) {
			return ss[0]
		}
		last = ss
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(w.ctl.logPath(name))
	t.Fatalf("service %s: never %s; last status %+v\ncontroller log:\n%s", name, what, last, log)
	return api.Service{}
}

func readyReplicas(s api.Service) []int {
	var ids []int
	for _, r := range s.Replicas {
		if r.Status == "READY" {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// get sends GET /id through the load balancer and returns the replica ID that answered.
func get(t *testing.T, endpoint string) int {
	t.Helper()
	resp, err := http.Get("http://" + endpoint + "/id")
	if err != nil {
		t.Fatalf("GET through the load balancer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET through the load balancer: %d %s", resp.StatusCode, b)
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("GET /id: %q", b)
	}
	return id
}

// TestServiceLifecycle: up → READY with both replicas serving through the load balancer; a replica's server
// killed → no request fails, the controller replaces it; the controller restarted → the service carries on on
// the same port; down → no cluster, no service, the port closed.
func TestServiceLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	yaml := webService(dir, 2)
	res, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "web" || !strings.HasPrefix(res.Endpoint, "127.0.0.1:300") {
		t.Fatalf("serve up: %+v", res)
	}
	s := waitFor(t, w, "web", "READY with 2 ready replicas", func(s api.Service) bool {
		return s.Status == api.ServiceReady && len(readyReplicas(s)) == 2
	})
	for _, r := range s.Replicas {
		if r.Cluster != ReplicaCluster("web", r.ID) || !strings.HasSuffix(r.Endpoint, ":8080") || r.Infra == "" {
			t.Fatalf("replica %+v", r)
		}
	}
	seen := map[int]bool{}
	for range 20 {
		seen[get(t, res.Endpoint)] = true
	}
	if !seen[1] || !seen[2] || len(seen) != 2 {
		t.Fatalf("replicas that answered: %v, want 1 and 2", seen)
	}

	// Replica 1's server dies: requests keep succeeding (the load balancer retries on the other) and the
	// controller replaces it.
	pid, err := os.ReadFile(filepath.Join(dir, "r1", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		get(t, res.Endpoint)
	}
	s = waitFor(t, w, "web", "replica 1 replaced", func(s api.Service) bool {
		ready := readyReplicas(s)
		return len(ready) == 2 && ready[0] == 2 && ready[1] == 3
	})
	for _, r := range s.Replicas {
		if r.ID == 1 && r.Status != "FAILED" {
			t.Fatalf("replica 1 after its server died: %s, want FAILED", r.Status)
		}
	}
	if cs, _ := w.core.Status(ctx, []string{"web-1"}, false); len(cs) != 0 {
		t.Fatalf("replica 1's cluster still there: %+v", cs)
	}
	seen = map[int]bool{}
	for range 20 {
		seen[get(t, res.Endpoint)] = true
	}
	if seen[1] || !seen[2] || !seen[3] {
		t.Fatalf("replicas that answered after the replacement: %v, want 2 and 3", seen)
	}

	// A restarted controller takes the service over: same port, same replicas.
	w.ctl.Close()
	w.start(t)
	waitFor(t, w, "web", "resumed", func(s api.Service) bool { return s.Status == api.ServiceReady && len(readyReplicas(s)) == 2 })
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get("http://" + res.Endpoint + "/id"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the load balancer did not come back on its port after the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if b, err := os.ReadFile(w.ctl.logPath("web")); err == nil {
		t.Logf("controller log:\n%s", b)
	}
	out, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Message != "terminated" {
		t.Fatalf("serve down: %+v", out)
	}
	if ss, _ := w.ctl.ServeStatus(ctx, nil); len(ss) != 0 {
		t.Fatalf("services after down: %+v", ss)
	}
	if cs, _ := w.core.Status(ctx, nil, false); len(cs) != 0 {
		t.Fatalf("clusters after down: %+v", cs)
	}
	if c, err := net.Dial("tcp", res.Endpoint); err == nil {
		c.Close()
		t.Fatal("the load balancer still listens after down")
	}
}

// TestBadInput: each is refused with a message that says what, and nothing is recorded.
func TestBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "plain.yaml", YAML: "run: echo hi\n"}})
	if err == nil || !strings.Contains(err.Error(), "plain.yaml") || !strings.Contains(err.Error(), "no service section") {
		t.Fatalf("no service section: %v", err)
	}
	_, err = w.ctl.ServeUp(ctx, api.ServeUpRequest{Name: "1bad", Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}})
	if err == nil || !strings.Contains(err.Error(), `service name "1bad"`) {
		t.Fatalf("bad name: %v", err)
	}
	_, err = w.ctl.ServeUpdate(ctx, api.ServeUpdateRequest{Name: "nope", Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}})
	var nf *api.ServiceNotFoundError
	if !errors.As(err, &nf) || nf.Name != "nope" {
		t.Fatalf("update of an unknown service: %v", err)
	}
	_, err = w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"nope"}})
	if !errors.As(err, &nf) {
		t.Fatalf("down of an unknown service: %v", err)
	}
	if ss, _ := w.ctl.ServeStatus(ctx, nil); len(ss) != 0 {
		t.Fatalf("services recorded: %+v", ss)
	}
}

// TestUpdateUnderLoad: `serve update` (rolling, then blue-green) under steady load: the new version's replicas
// replace the old ones and not one request fails.
func TestUpdateUnderLoad(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	res, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(dir, 2)}}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "web", "READY with 2 ready replicas", func(s api.Service) bool { return len(readyReplicas(s)) == 2 })

	var (
		stop     = make(chan struct{})
		done     = make(chan struct{})
		requests int
		failures []string
	)
	go func() {
		defer close(done)
		c := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			requests++
			resp, err := c.Get("http://" + res.Endpoint + "/id")
			if err != nil {
				failures = append(failures, err.Error())
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures = append(failures, resp.Status)
			}
		}
	}()
	for i, mode := range []string{"rolling", "blue_green"} {
		version := i + 2
		yaml := strings.Replace(webService(dir, 2), "envs:\n", fmt.Sprintf("envs:\n  V: \"%d\"\n", version), 1)
		up, err := api.Wait(w.ctl.ServeUpdate(ctx, api.ServeUpdateRequest{Name: "web", Mode: mode, Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}}))
		if err != nil {
			t.Fatal(err)
		}
		if up.Version != version {
			t.Fatalf("update: version %d, want %d", up.Version, version)
		}
		waitFor(t, w, "web", fmt.Sprintf("on version %d only (%s)", version, mode), func(s api.Service) bool {
			n := 0
			for _, r := range s.Replicas {
				if r.Version != version && !serveTerminal(r.Status) {
					return false
				}
				if r.Version == version && r.Status == "READY" {
					n++
				}
			}
			return s.Version == version && n == 2
		})
	}
	close(stop)
	<-done
	if len(failures) > 0 || requests == 0 {
		t.Fatalf("%d of %d requests failed during the updates: %v", len(failures), requests, failures[:min(len(failures), 5)])
	}
	t.Logf("%d requests, none failed, across a rolling and a blue-green update", requests)
}

func serveTerminal(s api.ReplicaStatus) bool {
	switch s {
	case "SHUTTING_DOWN", "PREEMPTED", "FAILED", "FAILED_CLEANUP", "FAILED_PROBING", "FAILED_INITIAL_DELAY", "FAILED_PROVISION", "UNKNOWN":
		return true
	}
	return false
}

// TestPortTakenOnRestart: a restarted controller whose service's port was taken meanwhile marks the service
// CONTROLLER_FAILED and says which port; its replicas are left as they are, and down still tears them down.
func TestPortTakenOnRestart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	res, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "web", "READY", func(s api.Service) bool { return len(readyReplicas(s)) == 1 })
	w.ctl.Close()
	ln, err := net.Listen("tcp", res.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	w.start(t)
	s := waitFor(t, w, "web", "CONTROLLER_FAILED", func(s api.Service) bool { return s.Status == api.ServiceControllerFailed })
	_, port, _ := net.SplitHostPort(res.Endpoint)
	if !strings.Contains(s.Message, port) || !strings.Contains(s.Message, "in use") {
		t.Fatalf("message %q: want the port %s in use", s.Message, port)
	}
	if cs, _ := w.core.Status(ctx, []string{"web-1"}, false); len(cs) != 1 {
		t.Fatalf("replica cluster: %+v", cs)
	}
	if _, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}})); err != nil {
		t.Fatal(err)
	}
	if cs, _ := w.core.Status(ctx, nil, false); len(cs) != 0 {
		t.Fatalf("clusters after down: %+v", cs)
	}
}

// TestUpdateOnlyService: an update that changes only the service section keeps the running replicas (same IDs,
// same clusters), now of the new version; nothing is launched.
func TestUpdateOnlyService(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(dir, 2)}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "web", "READY with 2 ready replicas", func(s api.Service) bool { return len(readyReplicas(s)) == 2 })
	yaml := strings.Replace(webService(dir, 2), "  readiness_probe: /id\n", "  readiness_probe: {path: /id, timeout_seconds: 5}\n", 1)
	if _, err := api.Wait(w.ctl.ServeUpdate(ctx, api.ServeUpdateRequest{Name: "web", Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}})); err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, w, "web", "version 2 on the same replicas", func(s api.Service) bool {
		if s.Version != 2 || len(s.Replicas) != 2 {
			return false
		}
		for _, r := range s.Replicas {
			if r.Version != 2 || r.Status != "READY" {
				return false
			}
		}
		return true
	})
	if s.Replicas[0].ID != 1 || s.Replicas[1].ID != 2 {
		t.Fatalf("replicas %+v: want 1 and 2 kept", s.Replicas)
	}
	if cs, _ := w.core.Status(ctx, nil, false); len(cs) != 2 {
		t.Fatalf("clusters %+v: want the two of before", cs)
	}
}

// TestResumeAdoptsLaunchedReplica: a controller that died after a replica's launch but before recording it
// finds it PROVISIONING; the next one adopts the running cluster rather than running the task a second time.
func TestResumeAdoptsLaunchedReplica(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "web", "READY", func(s api.Service) bool { return len(readyReplicas(s)) == 1 })
	w.ctl.Close()
	st, _ := OpenStore(w.st)
	reps, err := st.Replicas(ctx, "web")
	if err != nil || len(reps) != 1 {
		t.Fatalf("replicas %+v, %v", reps, err)
	}
	reps[0].Status, reps[0].Endpoint = "PROVISIONING", ""
	if err := st.PutReplica(ctx, reps[0]); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	s := waitFor(t, w, "web", "READY again", func(s api.Service) bool { return len(readyReplicas(s)) == 1 })
	if s.Replicas[0].ID != 1 {
		t.Fatalf("replicas %+v", s.Replicas)
	}
	jobs, err := w.core.Queue(ctx, "web-1", false)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs on web-1: %+v, %v; want the one run of before", jobs, err)
	}
}
