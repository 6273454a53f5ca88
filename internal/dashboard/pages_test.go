package dashboard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/server"
)

// fleet is a core with clusters of two users, a managed job with a recovery, and a service: what the page
// tests render. stops counts the Stop calls that reached it.
type fleet struct {
	*fakeclient.Client
	stops atomic.Int32
}

func newFleet(t testing.TB) *fleet {
	launched := time.Now().Add(-2 * time.Hour)
	started := launched.Add(time.Minute)
	clusters := []api.Cluster{
		{Name: "ada-dev", Status: api.ClusterUp, User: "ada", Infra: "Local", Resources: "1x(cpus=2, mem=4)", NumNodes: 1,
			LaunchedAt: launched, AutostopMins: 30, HourlyPrice: 1.5},
		{Name: "ada-old", Status: api.ClusterStopped, User: "ada", Infra: "AWS (us-east-1)", Resources: "1x(m5.large)", NumNodes: 1,
			LaunchedAt: launched.Add(-time.Hour), AutostopMins: -1},
		{Name: "bob-gpu", Status: api.ClusterUp, User: "bob", Infra: "GCP (us-central1)", Resources: "2x(A100:8)", NumNodes: 2,
			LaunchedAt: launched.Add(time.Minute), AutostopMins: 10, ToDown: true, HourlyPrice: 40},
	}
	f := &fleet{}
	f.Client = &fakeclient.Client{
		StatusFunc: func(names []string, _ bool) ([]api.Cluster, error) {
			if len(names) == 0 {
				return clusters, nil
			}
			var out []api.Cluster
			for _, c := range clusters {
				for _, n := range names {
					if c.Name == n {
						out = append(out, c)
					}
				}
			}
			if len(out) == 0 {
				return nil, &api.ClusterNotFoundError{Name: names[0]}
			}
			return out, nil
		},
		CostReportFunc: func() ([]api.CostReportEntry, error) {
			return []api.CostReportEntry{{Name: "ada-dev", Status: "UP", TotalCost: 3.25}, {Name: "bob-gpu", Status: "UP", TotalCost: 80}}, nil
		},
		QueueFunc: func(cluster string, _ bool) ([]api.Job, error) {
			return []api.Job{
				{ID: 1, Name: "train", User: "ada", Status: api.JobSucceeded, SubmittedAt: started, Resources: "1x[CPU:1]", NumNodes: 1},
				{ID: 2, Name: "eval", User: "ada", Status: api.JobRunning, SubmittedAt: started, Resources: "1x[CPU:1]", NumNodes: 1},
			}, nil
		},
		LogsFunc: func(cluster string, id int, _ api.LogsOptions, w io.Writer) (api.Job, error) {
			fmt.Fprintf(w, "hello from job %d on %s\n<script>alert(1)</script>\n", id, cluster)
			return api.Job{ID: id, Status: api.JobSucceeded}, nil
		},
		StopFunc: func(string) error { f.stops.Add(1); return nil },
		JobsQueueFunc: func(o api.JobsQueueOptions) ([]api.ManagedJob, error) {
			jobs := []api.ManagedJob{
				{ID: 7, Name: "finetune", TaskName: "finetune", User: "ada", Status: api.ManagedRunning, Resources: "1x[A100:1]",
					Infra: "AWS (us-east-1)", Cluster: "finetune-7", SubmittedAt: started, Recoveries: 2,
					Events: []api.ManagedJobEvent{{At: started, Status: api.ManagedRecovering, Reason: "preempted", Message: "spot instance preempted"}}},
				{ID: 8, Name: "sweep", User: "bob", Status: api.ManagedSucceeded, Resources: "1x[CPU:1]", SubmittedAt: started},
			}
			if len(o.IDs) == 0 {
				return jobs, nil
			}
			var out []api.ManagedJob
			for _, j := range jobs {
				if j.ID == o.IDs[0] {
					out = append(out, j)
				}
			}
			return out, nil
		},
		JobsLogsFunc: func(id int64, _ api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
			fmt.Fprintf(w, "managed job %d says hi\n", id)
			return nil, nil
		},
		// A cluster's nodes are in its state as the core lists it now (a test may change StatusFunc).
		NodesFunc: func(name string) ([]api.ClusterNode, error) {
			cs, _ := f.StatusFunc([]string{name}, false)
			at := slices.IndexFunc(cs, func(c api.Cluster) bool { return c.Name == name })
			if at < 0 {
				return nil, &api.ClusterNotFoundError{Name: name}
			}
			var out []api.ClusterNode
			for i := range cs[at].NumNodes {
				n := api.ClusterNode{Rank: i, Role: "worker", InternalIP: fmt.Sprintf("10.0.0.%d", i+1), Status: cs[at].Status,
					Cloud: "gcp", Region: "us-central1", Zone: "us-central1-a", InstanceType: "a2-highgpu-8g", CPUs: 96, MemoryGB: 680,
					Accelerators: map[string]float64{"A100": 8}}
				if i == 0 {
					n.Role, n.ExternalIP = "head", "203.0.113.9"
				}
				out = append(out, n)
			}
			return out, nil
		},
		ServeStatusFunc: func([]string) ([]api.Service, error) {
			return []api.Service{{Name: "llm", Status: "READY", Version: 2, Endpoint: "127.0.0.1:30001", User: "ada", QPS: 2.5,
				Replicas: []api.Replica{{ID: 1, Version: 1, Status: "READY", Cluster: "llm-1"}, {ID: 2, Version: 2, Status: "PROVISIONING"}}}}, nil
		},
	}
	return f
}

// TestEveryPageRenders walks every page of a server without authentication (local): each answers with what it
// is about, with no login.
func TestEveryPageRenders(t *testing.T) {
	t.Parallel()
	_, base := serve(t, server.Options{Client: newFleet(t)})
	b := newBrowser(t, base)
	if code, _, loc := b.get("/"); code != http.StatusSeeOther || loc != "/dashboard/" {
		t.Errorf("GET / = %d to %q, want a redirect to /dashboard/", code, loc)
	}
	if code, _, loc := b.get("/dashboard/"); code != http.StatusSeeOther || loc != "/dashboard/clusters" {
		t.Errorf("GET /dashboard/ = %d to %q, want a redirect to the clusters", code, loc)
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/dashboard/clusters", []string{"ada-dev", "ada-old", "bob-gpu", "GCP (us-central1)", "2x(A100:8)", "30 min", "10 min (down)",
			"$3.25", "$80.00", `<main id="main"`, `<nav aria-label="Sections">`, `aria-current="page"`, `<label for="q">`}},
		{"/dashboard/clusters/ada-dev", []string{"Cluster ada-dev", "1x(cpus=2, mem=4)", "$1.50 an hour", "train", "eval",
			"/dashboard/clusters/ada-dev/stop", "/dashboard/clusters/ada-dev/jobs/2/cancel"}},
		{"/dashboard/clusters/ada-dev/jobs/2", []string{"Job 2 on ada-dev", `data-stream="/dashboard/clusters/ada-dev/jobs/2/log"`,
			"/dashboard/clusters/ada-dev/jobs/2/log.txt"}},
		{"/dashboard/clusters/ada-dev/jobs/2/log.txt", []string{"hello from job 2 on ada-dev", "<script>alert(1)</script>"}},
		{"/dashboard/jobs", []string{"finetune", "sweep", "RUNNING", "/dashboard/jobs/7"}},
		{"/dashboard/jobs/7", []string{"Managed job 7", "preempted", "spot instance preempted", "finetune-7", "/dashboard/jobs/7/cancel"}},
		{"/dashboard/jobs/7/log.txt", []string{"managed job 7 says hi"}},
		{"/dashboard/services", []string{"llm", "127.0.0.1:30001", "1/2", "<td>2.5</td>"}},
		{"/dashboard/services/llm", []string{"Service llm", "llm-1", "PROVISIONING", "1, 2", `<span id="qps" data-live="qps">2.5</span> (the last minute)`}},
		{"/dashboard/clusters/ada-dev/stop", []string{"Stop cluster ada-dev", `name="csrf"`}},
		{"/dashboard/requests", []string{`<table id="requests">`, "No requests."}},
		{"/dashboard/costs", []string{`<svg id="cost-chart"`, "$83.25"}},
		{"/dashboard/tokens", []string{`<table id="tokens">`, "/dashboard/tokens/new"}},
		{"/dashboard/tokens/new", []string{`<label for="name">`, `name="csrf"`}},
		{"/dashboard/users", []string{`<table id="users">`}},
		{"/dashboard/workspaces", []string{`data-workspace="default"`}},
		{"/dashboard/config", []string{"The config is empty"}},
	} {
		code, body, _ := b.get(tc.path)
		if code != http.StatusOK {
			t.Errorf("GET %s = %d:\n%s", tc.path, code, body)
			continue
		}
		mustContain(t, tc.path, body, tc.want...)
	}
	// The log page escapes the job's output: it is text, never markup.
	_, body, _ := b.get("/dashboard/clusters/ada-dev/jobs/2")
	mustNotContain(t, "the job page", body, "<script>alert")
	for _, path := range []string{"/dashboard/static/style.css", "/dashboard/static/app.js"} {
		if code, _, _ := b.get(path); code != http.StatusOK {
			t.Errorf("GET %s = %d", path, code)
		}
	}
}

// TestListsFilterAndSortWithoutJavaScript: the query string filters and sorts the clusters.
func TestListsFilterAndSortWithoutJavaScript(t *testing.T) {
	t.Parallel()
	_, base := serve(t, server.Options{Client: newFleet(t)})
	b := newBrowser(t, base)
	_, body, _ := b.get("/dashboard/clusters?state=STOPPED")
	mustContain(t, "STOPPED clusters", body, "ada-old", "Showing 1–1 of 1")
	mustNotContain(t, "STOPPED clusters", body, `data-cluster="ada-dev"`, `data-cluster="bob-gpu"`)
	_, body, _ = b.get("/dashboard/clusters?q=gcp")
	mustContain(t, "clusters matching gcp", body, "bob-gpu")
	mustNotContain(t, "clusters matching gcp", body, `data-cluster="ada-dev"`)
	_, body, _ = b.get("/dashboard/clusters?sort=cost&desc=1")
	if i, j := strings.Index(body, `data-cluster="bob-gpu"`), strings.Index(body, `data-cluster="ada-dev"`); i < 0 || j < 0 || i > j {
		t.Errorf("sorted by cost, most first: bob-gpu ($80) should come before ada-dev ($3.25):\n%s", body)
	}
	mustContain(t, "sorted by cost", body, `aria-sort="descending"`)
	_, body, _ = b.get("/dashboard/jobs?state=SUCCEEDED")
	mustContain(t, "succeeded managed jobs", body, "sweep")
	mustNotContain(t, "succeeded managed jobs", body, "finetune")
}

// TestUnknownThingsAre404WithALinkBack.
func TestUnknownThingsAre404WithALinkBack(t *testing.T) {
	t.Parallel()
	_, base := serve(t, server.Options{Client: newFleet(t)})
	b := newBrowser(t, base)
	for path, back := range map[string]string{
		"/dashboard/clusters/nope":           `href="/dashboard/clusters"`,
		"/dashboard/clusters/ada-dev/jobs/9": `href="/dashboard/clusters/ada-dev"`,
		"/dashboard/clusters/ada-dev/jobs/x": `href="/dashboard/clusters/ada-dev"`,
		"/dashboard/jobs/99":                 `href="/dashboard/jobs"`,
		"/dashboard/services/nope":           `href="/dashboard/services"`,
		"/dashboard/no/such/page":            `href="/dashboard/clusters"`,
		"/dashboard/clusters/nope/stop":      `href="/dashboard/clusters"`,
	} {
		code, body, _ := b.get(path)
		if code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404:\n%s", path, code, body)
		}
		mustContain(t, path, body, back, `role="alert"`)
	}
}

// TestActionsNeedTheFormsToken: a POST without the page's CSRF token (another site's form) does nothing; one
// in the wrong state says so and does nothing; the right one makes the API call, recorded as a request.
func TestActionsNeedTheFormsToken(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	_, base := serve(t, server.Options{Client: f})
	b := newBrowser(t, base)
	code, body, _ := b.post("/dashboard/clusters/ada-dev/stop", url.Values{"csrf": {"forged-forged-forged-forged-forged-forged"}})
	if code != http.StatusForbidden || f.stops.Load() != 0 {
		t.Errorf("a forged stop: %d, %d stops reached the core; want 403 and none:\n%s", code, f.stops.Load(), body)
	}
	tok := b.csrf("/dashboard/clusters/ada-dev/stop")
	code, body, _ = b.post("/dashboard/clusters/ada-old/stop", url.Values{"csrf": {tok}})
	if code != http.StatusConflict || f.stops.Load() != 0 {
		t.Errorf("stopping a STOPPED cluster: %d, %d stops; want 409 and none", code, f.stops.Load())
	}
	mustContain(t, "stopping a STOPPED cluster", body, "only an UP cluster can be stopped", "Nothing was done")
	code, body, loc := b.post("/dashboard/clusters/ada-dev/stop", url.Values{"csrf": {tok}})
	if code != http.StatusSeeOther || loc != "/dashboard/clusters/ada-dev" {
		t.Fatalf("stop: %d to %q:\n%s", code, loc, body)
	}
	_, body, _ = b.get(loc)
	mustContain(t, "the page after stopping", body, "Stop cluster ada-dev: requested (request ")
	// Once: the next page does not say it again, and a link cannot make a page say it.
	_, body, _ = b.get(loc + "?flash=Your+password+expired")
	mustNotContain(t, "the page loaded again", body, "requested (request ", "password")
	// The request is the API's: it shows in the server's queue, and ran on the core.
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, User: "anyone"})
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := c.Requests(t.Context(), api.RequestFilter{All: true, AllUsers: true})
	if err != nil || len(reqs) != 1 || reqs[0].Name != "stop" || reqs[0].Cluster != "ada-dev" {
		t.Fatalf("requests after the stop: %+v, %v", reqs, err)
	}
}

// TestLoginSessionsAndPermissions: on a server that requires authentication, the dashboard asks for a login;
// a user's session shows their own clusters only and cannot act on another's; a revoked token or an expired
// session sends the browser back to the login page.
func TestLoginSessionsAndPermissions(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	dir := t.TempDir()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	_, base := serve(t, server.Options{Dir: dir, Client: f, Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser},
		DashboardSessionTTL: time.Hour, DashboardNow: func() time.Time { return time.Unix(0, now.Load()) }})
	bobToken := createToken(t, base, dir, "bob", "user")

	b := newBrowser(t, base)
	code, _, loc := b.get("/dashboard/clusters/bob-gpu")
	if code != http.StatusSeeOther || loc != "/dashboard/login?next=%2Fdashboard%2Fclusters%2Fbob-gpu" {
		t.Fatalf("no session: %d to %q, want the login page", code, loc)
	}
	code, body, _ := b.post("/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "token": {"sky_wrong"}})
	if code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401:\n%s", code, body)
	}
	// The login goes on to the page asked for.
	code, _, loc = b.post("/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "token": {bobToken},
		"next": {"/dashboard/clusters/bob-gpu"}})
	if code != http.StatusSeeOther || loc != "/dashboard/clusters/bob-gpu" {
		t.Fatalf("login: %d to %q", code, loc)
	}
	u, _ := url.Parse(base + "/dashboard/")
	var session *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "stix_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie after login")
	}
	code, body, _ = b.get("/dashboard/clusters")
	if code != http.StatusOK {
		t.Fatalf("clusters as bob: %d", code)
	}
	mustContain(t, "bob's clusters", body, "bob-gpu", `<span id="user">bob</span>`)
	mustNotContain(t, "bob's clusters", body, "ada-dev", "ada-old")
	code, body, _ = b.get("/dashboard/clusters/ada-dev")
	if code != http.StatusForbidden {
		t.Errorf("bob opening ada's cluster: %d, want 403:\n%s", code, body)
	}
	code, _, _ = b.get("/dashboard/clusters/ada-dev/jobs/2/log.txt")
	if code != http.StatusForbidden {
		t.Errorf("bob reading ada's job log: %d, want 403", code)
	}
	_, body, _ = b.get("/dashboard/clusters/ada-dev/jobs/2/log")
	mustContain(t, "bob's stream of ada's job log", body, "event: fail", `belongs to user \"ada\"`)
	mustNotContain(t, "bob's stream of ada's job log", body, "hello from job")
	_, body, _ = b.get("/dashboard/jobs")
	mustNotContain(t, "bob's managed jobs", body, "finetune")
	code, body, _ = b.post("/dashboard/clusters/ada-dev/stop", url.Values{"csrf": {b.csrf("/dashboard/clusters")}})
	if code != http.StatusForbidden || f.stops.Load() != 0 {
		t.Errorf("bob stopping ada's cluster: %d, %d stops; want 403 and none:\n%s", code, f.stops.Load(), body)
	}

	// The session expires.
	now.Add(int64(2 * time.Hour))
	code, _, loc = b.get("/dashboard/clusters")
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/login") {
		t.Errorf("an expired session: %d to %q, want the login page", code, loc)
	}
	// A revoked token ends its session at once.
	b.login(bobToken)
	if code, _, _ := b.get("/dashboard/clusters"); code != http.StatusOK {
		t.Fatalf("after logging in again: %d", code)
	}
	admin, _ := server.ReadInitialToken(dir)
	ac, err := api.NewHTTP(api.HTTPOptions{Endpoint: base, Token: admin})
	if err != nil {
		t.Fatal(err)
	}
	if err := ac.RevokeToken(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	code, _, loc = b.get("/dashboard/clusters")
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/login") {
		t.Errorf("a revoked token's session: %d to %q, want the login page", code, loc)
	}
}

// TestSessionCookieIsHttpOnlyAndStrict reads the login's Set-Cookie itself.
func TestSessionCookieIsHttpOnlyAndStrict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: newFleet(t), Auth: auth.Config{ServiceAccounts: true}})
	tok := createToken(t, base, dir, "ada", "admin")
	b := newBrowser(t, base)
	csrf := b.csrf("/dashboard/login")
	req, _ := http.NewRequest("POST", base+"/dashboard/login", strings.NewReader(url.Values{"csrf": {csrf}, "token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "stix_session" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/dashboard" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/dashboard", c)
			}
		}
	}
	if !found {
		t.Errorf("login (%d) set no session cookie", resp.StatusCode)
	}
	// The API does not take the dashboard's cookie: a page of another site cannot use it on the API.
	resp, err = b.c.Get(base + "/api/v1/clusters")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API with only the dashboard's cookie: %d, want 401", resp.StatusCode)
	}
}

// TestBasicAuthLoginAndSSOProxy: the login page takes a user name and password where the server has an htpasswd
// file; behind an SSO proxy its header names the user on every page, with no login.
func TestBasicAuthLoginAndSSOProxy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("bob:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base := serve(t, server.Options{Dir: filepath.Join(dir, "server"), Client: newFleet(t), Auth: auth.Config{
		HtpasswdFile: htpasswd, ProxyHeader: auth.DefaultProxyHeader, DefaultRole: auth.RoleUser}})

	b := newBrowser(t, base)
	_, body, _ := b.get("/dashboard/login")
	mustContain(t, "the login page", body, `<label for="user">`, `<label for="password">`)
	code, _, _ := b.post("/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "user": {"bob"}, "password": {"wrong"}})
	if code != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d, want 401", code)
	}
	code, _, loc := b.post("/dashboard/login", url.Values{"csrf": {b.csrf("/dashboard/login")}, "user": {"bob"}, "password": {"s3cret"}})
	if code != http.StatusSeeOther || loc != "/dashboard/clusters" {
		t.Fatalf("basic login: %d to %q", code, loc)
	}
	_, body, _ = b.get("/dashboard/clusters")
	mustContain(t, "bob's clusters", body, "bob-gpu", "Log out")
	mustNotContain(t, "bob's clusters", body, "ada-dev")

	req, _ := http.NewRequest("GET", base+"/dashboard/clusters", nil)
	req.Header.Set(auth.DefaultProxyHeader, "ada")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("through the proxy: %d", resp.StatusCode)
	}
	mustContain(t, "ada's clusters through the proxy", string(raw), "ada-dev", `<span id="user">ada</span>`)
	mustNotContain(t, "ada's clusters through the proxy", string(raw), "bob-gpu", "Log out")
}
