package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
)

// TestInfraPage: a real core over a home with a kubeconfig of two contexts and an SSH node pool shows them,
// which infra are enabled and why the others are not (the checks read files only: no provider is called).
func TestInfraPage(t *testing.T) {
	t.Parallel()
	home, user := t.TempDir(), t.TempDir()
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(user, ".kube", "config"), `apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u1}
- name: prod-east
  context: {cluster: c1, user: u1}
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u1
  user: {token: abc}
`)
	write(filepath.Join(home, "ssh_node_pools.yaml"), "lab-pool:\n  hosts:\n    - 127.0.0.1\n")
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}, UserHome: user,
		Getenv: func(k string) string {
			if k == "HOME" {
				return user
			}
			return ""
		}})
	t.Cleanup(func() { core.Close() })
	_, base := serve(t, server.Options{Dir: filepath.Join(home, "server"), Client: core, InfraStatus: core.InfraStatus})
	b := newBrowser(t, base)
	code, body, _ := b.get("/dashboard/infra")
	if code != http.StatusOK {
		t.Fatalf("GET /dashboard/infra = %d:\n%s", code, body)
	}
	mustContain(t, "the infra page", body, `<li>dev</li>`, `<li>prod-east</li>`, `<li>lab-pool</li>`, `aria-current="page">Infra`)
	row := func(infra string) string {
		m := regexp.MustCompile(`(?s)<tr data-infra="` + infra + `">.*?</tr>`).FindString(body)
		if m == "" {
			t.Fatalf("the infra page has no row for %s:\n%s", infra, body)
		}
		return m
	}
	mustContain(t, "the kubernetes row", row("kubernetes"), "enabled")
	mustContain(t, "the aws row", row("aws"), "disabled")
	if r := row("aws"); !strings.Contains(r, "</span></td>\n<td>no</td>") || strings.Contains(r, "<td>-</td></tr>") {
		t.Errorf("aws is neither enabled for launches nor said why it is disabled: %s", r)
	}
	// Loading the page recorded no check: kubernetes is found, not yet enabled for launches.
	mustContain(t, "the infra page before any check", body, `id="enabled">none recorded yet<`)
	mustContain(t, "the kubernetes row before any check", row("kubernetes"), "no: run <code>stix check</code>")
	if _, err := api.Wait(core.Check(t.Context(), nil, false)); err != nil {
		t.Fatal(err)
	}
	_, body, _ = b.get("/dashboard/infra")
	mustContain(t, "the kubernetes row after stix check", row("kubernetes"), "<td>yes</td>")
	mustNotContain(t, "the infra page after stix check", body, "none recorded yet")
}

// TestRequestsPages: the request queue lists the caller's requests (an admin's: everyone's), and one request's
// page shows its log; another user's request is the API's 403.
func TestRequestsPages(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: f, Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}})
	adaTok, bobTok := createToken(t, base, dir, "ada", "admin"), createToken(t, base, dir, "bob", "user")
	ada, bob := newBrowser(t, base), newBrowser(t, base)
	ada.login(adaTok)
	bob.login(bobTok)
	// Each stops their own cluster from the dashboard: two requests.
	for _, s := range []struct {
		b       *browser
		cluster string
	}{{ada, "ada-dev"}, {bob, "bob-gpu"}} {
		path := "/dashboard/clusters/" + s.cluster + "/stop"
		if code, body, _ := s.b.post(path, url.Values{"csrf": {s.b.csrf(path)}}); code != http.StatusSeeOther {
			t.Fatalf("stop %s: %d:\n%s", s.cluster, code, body)
		}
	}
	idRE := regexp.MustCompile(`data-request="([^"]+)"`)
	_, body, _ := bob.get("/dashboard/requests")
	ids := idRE.FindAllStringSubmatch(body, -1)
	if len(ids) != 1 || !strings.Contains(body, "bob-gpu") || strings.Contains(body, "ada-dev") {
		t.Fatalf("bob's requests: want his stop only:\n%s", body)
	}
	bobReq := ids[0][1]
	_, body, _ = ada.get("/dashboard/requests?sort=name")
	all := idRE.FindAllStringSubmatch(body, -1)
	if len(all) != 2 {
		t.Fatalf("the admin's requests: %d rows, want both users' 2:\n%s", len(all), body)
	}
	mustContain(t, "the admin's requests", body, "ada-dev", "bob-gpu", `<td>stop</td>`, `aria-sort="ascending"`)
	adaReq := all[0][1]
	if adaReq == bobReq {
		adaReq = all[1][1]
	}
	code, body, _ := bob.get("/dashboard/requests/" + bobReq)
	if code != http.StatusOK {
		t.Fatalf("bob's request page: %d:\n%s", code, body)
	}
	mustContain(t, "bob's request", body, bobReq, "bob-gpu", `id="events"`)
	if code, body, _ := bob.get("/dashboard/requests/" + adaReq); code != http.StatusForbidden {
		t.Errorf("bob opening ada's request: %d, want 403:\n%s", code, body)
	}
	if code, _, _ := ada.get("/dashboard/requests/" + bobReq); code != http.StatusOK {
		t.Errorf("the admin opening bob's request: %d, want 200", code)
	}
	if code, body, _ := ada.get("/dashboard/requests/nope"); code != http.StatusNotFound || !strings.Contains(body, `href="/dashboard/requests"`) {
		t.Errorf("a request that does not exist: %d, want 404 with a link back:\n%s", code, body)
	}
	_, body, _ = ada.get("/dashboard/requests?q=bob")
	if n := len(idRE.FindAllString(body, -1)); n != 1 {
		t.Errorf("requests matching bob: %d rows, want 1", n)
	}
}

// TestTokensPagesAreAdminOnly: an admin lists, creates (the token shown once) and revokes tokens, each with the
// form's CSRF token; a user gets the API's 403 on every tokens page and sees no Tokens link.
func TestTokensPagesAreAdminOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: newFleet(t), Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}})
	adaTok, bobTok := createToken(t, base, dir, "ada", "admin"), createToken(t, base, dir, "bob", "user")
	ada, bob := newBrowser(t, base), newBrowser(t, base)
	ada.login(adaTok)
	bob.login(bobTok)

	_, body, _ := bob.get("/dashboard/clusters")
	mustNotContain(t, "bob's navigation", body, `href="/dashboard/tokens"`)
	for _, p := range []string{"/dashboard/tokens", "/dashboard/tokens/new", "/dashboard/tokens/ada/revoke"} {
		if code, body, _ := bob.get(p); code != http.StatusForbidden {
			t.Errorf("bob GET %s: %d, want 403:\n%s", p, code, body)
		}
	}
	csrf := bob.csrf("/dashboard/clusters")
	if code, _, _ := bob.post("/dashboard/tokens/new", url.Values{"csrf": {csrf}, "name": {"bob-admin"}, "role": {"admin"}}); code != http.StatusForbidden {
		t.Errorf("bob creating an admin token: %d, want 403", code)
	}
	if code, _, _ := bob.post("/dashboard/tokens/ada/revoke", url.Values{"csrf": {csrf}}); code != http.StatusForbidden {
		t.Errorf("bob revoking ada's token: %d, want 403", code)
	}

	_, body, _ = ada.get("/dashboard/tokens")
	mustContain(t, "the admin's tokens", body, `data-token="ada"`, `data-token="bob"`, `href="/dashboard/tokens/bob/revoke"`,
		`href="/dashboard/tokens"`)
	mustNotContain(t, "the admin's tokens", body, bobTok, "bob-admin")
	// Create: without the form's token nothing is created; a bad expiry says so.
	if code, _, _ := ada.post("/dashboard/tokens/new", url.Values{"csrf": {"forged-forged-forged-forged-forged-forged"}, "name": {"ci"}}); code != http.StatusForbidden {
		t.Errorf("a forged create: %d, want 403", code)
	}
	code, body, _ := ada.post("/dashboard/tokens/new", url.Values{"csrf": {ada.csrf("/dashboard/tokens/new")}, "name": {"ci"}, "days": {"-3"}})
	if code != http.StatusBadRequest {
		t.Errorf("a negative expiry: %d, want 400:\n%s", code, body)
	}
	mustContain(t, "a negative expiry", body, "Nothing was created")
	code, body, _ = ada.post("/dashboard/tokens/new", url.Values{"csrf": {ada.csrf("/dashboard/tokens/new")}, "name": {"ci"}, "role": {"user"}, "days": {"7"}})
	if code != http.StatusCreated {
		t.Fatalf("create ci: %d:\n%s", code, body)
	}
	tok := regexp.MustCompile(`<pre class="log" tabindex="0" id="token">([^<]+)</pre>`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("the created token is not shown:\n%s", body)
	}
	ci := newBrowser(t, base)
	ci.login(tok[1])
	_, body, _ = ada.get("/dashboard/tokens")
	mustContain(t, "the tokens after creating ci", body, `data-token="ci"`)
	mustNotContain(t, "the tokens after creating ci", body, tok[1])
	// Revoke: a confirmation page, then the POST; the token's session ends.
	_, body, _ = ada.get("/dashboard/tokens/ci/revoke")
	mustContain(t, "the revoke confirmation", body, "Revoke token ci", "stops working at once")
	code, _, loc := ada.post("/dashboard/tokens/ci/revoke", url.Values{"csrf": {ada.csrf("/dashboard/tokens/ci/revoke")}})
	if code != http.StatusSeeOther || loc != "/dashboard/tokens" {
		t.Fatalf("revoke ci: %d to %q", code, loc)
	}
	_, body, _ = ada.get(loc)
	mustContain(t, "the tokens after revoking ci", body, "Revoke token ci: done.", "revoked ")
	if code, _, loc := ci.get("/dashboard/clusters"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/login") {
		t.Errorf("the revoked token's session: %d to %q, want the login page", code, loc)
	}
	code, body, _ = ada.post("/dashboard/tokens/ci/revoke", url.Values{"csrf": {ada.csrf("/dashboard/tokens/ci/revoke")}})
	if code != http.StatusConflict {
		t.Errorf("revoking ci again: %d, want 409:\n%s", code, body)
	}
	if code, _, _ := ada.get("/dashboard/tokens/nope/revoke"); code != http.StatusNotFound {
		t.Errorf("revoking a token that does not exist: %d, want 404", code)
	}
}

// TestCostReportPage: the cost report's table and its chart, drawn as SVG on the server; a user's shows their
// own clusters only.
func TestCostReportPage(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	f.CostReportFunc = func() ([]api.CostReportEntry, error) {
		return []api.CostReportEntry{{Name: "ada-dev", Status: "UP", TotalCost: 3.25, Resources: "1x(cpus=2, mem=4)"},
			{Name: "bob-gpu", Status: "UP", TotalCost: 80, NumNodes: 2, Resources: "2x(A100:8)"},
			{Name: "ada-old", Status: "STOPPED", TotalCost: 12.5}}, nil
	}
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: f, Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}})
	ada, bob := newBrowser(t, base), newBrowser(t, base)
	ada.login(createToken(t, base, dir, "ada", "admin"))
	bob.login(createToken(t, base, dir, "bob", "user"))
	_, body, _ := ada.get("/dashboard/costs")
	mustContain(t, "the admin's cost report", body, `<svg id="cost-chart" role="img"`, "<title>bob-gpu: $80.00</title>",
		`id="total">$95.75<`, `data-cost="ada-old"`, `aria-sort="descending"`)
	if i, j := strings.Index(body, `data-cost="bob-gpu"`), strings.Index(body, `data-cost="ada-dev"`); i < 0 || j < i {
		t.Errorf("the costliest first: bob-gpu should come before ada-dev:\n%s", body)
	}
	mustNotContain(t, "the admin's cost report", body, "<script>")
	_, body, _ = bob.get("/dashboard/costs")
	mustContain(t, "bob's cost report", body, `data-cost="bob-gpu"`, `id="total">$80.00<`)
	mustNotContain(t, "bob's cost report", body, "ada-dev", "ada-old")
}

// TestConfigWorkspacesAndUsersAreAdminOnly: an admin reads the server's config with its secrets hidden, the
// workspaces it defines and the users the server knows; a user gets 403 on each and no link to them.
func TestConfigWorkspacesAndUsersAreAdminOnly(t *testing.T) {
	t.Parallel()
	cfg := map[string]any{
		"api_server": map[string]any{"service_account_token": "sky_very_secret"},
		"envs":       map[string]any{"HF_TOKEN": "hf-abc"},
		"workspaces": map[string]any{
			"research": map[string]any{"private": true, "allowed_users": []any{"ada"}, "aws": map[string]any{"disabled": true}},
			"team":     map[string]any{"gcp": map[string]any{"project_id": "team-proj"}},
		},
	}
	dir := t.TempDir()
	_, base := serve(t, server.Options{Dir: dir, Client: newFleet(t), Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser},
		Config: func(context.Context) (map[string]any, error) { return cfg, nil }})
	ada, bob := newBrowser(t, base), newBrowser(t, base)
	ada.login(createToken(t, base, dir, "ada", "admin"))
	bob.login(createToken(t, base, dir, "bob", "user"))

	code, body, _ := ada.get("/dashboard/config")
	if code != http.StatusOK {
		t.Fatalf("the admin's config page: %d:\n%s", code, body)
	}
	mustContain(t, "the config page", body, "service_account_token: &lt;redacted&gt;", "HF_TOKEN: &lt;redacted&gt;", "project_id: team-proj")
	mustNotContain(t, "the config page", body, "sky_very_secret", "hf-abc")
	_, body, _ = ada.get("/dashboard/workspaces")
	mustContain(t, "the workspaces page", body, `data-workspace="default"`, `data-workspace="team"`)
	if row := regexp.MustCompile(`(?s)<tr data-workspace="research">.*?</tr>`).FindString(body); !strings.Contains(row, "private") ||
		!strings.Contains(row, "<td>ada</td>") || !strings.Contains(row, "<td>aws</td>") {
		t.Errorf("the research workspace's row: %q, want private, ada allowed, aws disabled", row)
	}
	// bob makes a request, so the users page has him with one.
	if code, _, _ := bob.post("/dashboard/clusters/bob-gpu/stop", url.Values{"csrf": {bob.csrf("/dashboard/clusters/bob-gpu/stop")}}); code != http.StatusSeeOther {
		t.Fatalf("bob's stop: %d", code)
	}
	_, body, _ = ada.get("/dashboard/users")
	mustContain(t, "the users page", body, `data-user="ada"`, `data-user="bob"`, `href="/dashboard/requests?q=bob">1</a>`)

	_, body, _ = bob.get("/dashboard/clusters")
	mustNotContain(t, "bob's navigation", body, `href="/dashboard/config"`, `href="/dashboard/users"`, `href="/dashboard/workspaces"`)
	for _, p := range []string{"/dashboard/config", "/dashboard/workspaces", "/dashboard/users"} {
		if code, body, _ := bob.get(p); code != http.StatusForbidden {
			t.Errorf("bob GET %s: %d, want 403:\n%s", p, code, body)
		} else {
			mustNotContain(t, "bob's "+p, body, "sky_very_secret", "research")
		}
	}
}

// TestKubernetesGPUsPage: the infra page links to the contexts' GPU availability, a page of its own that asks
// `show-gpus --infra k8s` when opened; a context that does not answer is a message on it.
func TestKubernetesGPUsPage(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	var fail atomic.Bool
	f.AcceleratorsFunc = func(q api.GPUQuery) ([]api.AcceleratorCounts, error) {
		if q.Infra != "kubernetes" {
			return nil, fmt.Errorf("asked for %q, not kubernetes", q.Infra)
		}
		if fail.Load() {
			return nil, fmt.Errorf("kubernetes context prod: list nodes: connection refused")
		}
		return []api.AcceleratorCounts{{Name: "H100", Counts: []float64{1, 2, 4, 8}, Clouds: []string{"dev", "prod"},
			Nodes: []api.NodeGPUs{{Context: "dev", Node: "gpu-a", Total: 8, Free: 3}, {Context: "prod", Node: "gpu-b", Total: 8, Free: 8}}}}, nil
	}
	_, base := serve(t, server.Options{Client: f, InfraStatus: func(context.Context) (api.CheckResult, error) {
		return api.CheckResult{Results: []api.InfraCheck{{Infra: "kubernetes", Enabled: true, Contexts: []string{"dev", "prod"}}},
			Enabled: []string{"kubernetes"}}, nil
	}})
	b := newBrowser(t, base)
	_, body, _ := b.get("/dashboard/infra")
	mustContain(t, "the infra page", body, `href="/dashboard/infra/kubernetes"`, `<li>prod</li>`)
	code, body, _ := b.get("/dashboard/infra/kubernetes")
	if code != http.StatusOK {
		t.Fatalf("the Kubernetes GPUs page: %d:\n%s", code, body)
	}
	mustContain(t, "the Kubernetes GPUs page", body, `<tr data-gpu="H100"><td>H100</td><td>1, 2, 4, 8</td><td>11 of 16</td>`,
		`<tr data-node="gpu-a"><td>dev</td><td>gpu-a</td><td>H100</td><td>3 of 8</td>`)
	fail.Store(true)
	_, body, _ = b.get("/dashboard/infra/kubernetes")
	mustContain(t, "the Kubernetes GPUs page of a context that does not answer", body, `role="alert"`, "connection refused")
}
