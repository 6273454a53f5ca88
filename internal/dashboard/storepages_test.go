package dashboard_test

import (
	"cmp"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
)

// TestRequestsAndJobsPagesFromTheStore: over a real store, the requests page shows the page its filter, sort
// and page number select and counts every request the filter keeps, of the caller's alone; the managed jobs
// page shows the newest jobs a page at a time with the count of them all (an admin's: everyone's; a user's:
// their own); a page past the end shows the last. The users page counts each user's requests.
func TestRequestsAndJobsPagesFromTheStore(t *testing.T) {
	t.Parallel()
	f := newFleetStore(t, 30, 250, 300) // managed jobs: 1-250 alice's, 251-275 bob's
	s := f.serve(t, server.Options{Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	dir := filepath.Join(f.home, "server")
	as := func(name, role string) *browser {
		b := newBrowser(t, hs.URL)
		b.login(createToken(t, hs.URL, dir, name, role))
		return b
	}
	root, bob, user3 := as("root", "admin"), as("bob", "user"), as("user3", "user")

	reqRE := regexp.MustCompile(`data-request="([^"]+)"`)
	var keep []api.Request
	for i := range 300 {
		if q := seededRequest(i); q.User == "user3" && q.Status == api.RequestFailed && strings.Contains(q.Cluster, "cluster-00") {
			keep = append(keep, q)
		}
	}
	slices.SortFunc(keep, func(a, b api.Request) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	_, body, _ := user3.get("/dashboard/requests?state=FAILED&q=Cluster-00&sort=name")
	var got, want []string
	for _, m := range reqRE.FindAllStringSubmatch(body, -1) {
		got = append(got, m[1])
	}
	for _, q := range keep {
		want = append(want, q.ID)
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("user3's FAILED requests on cluster-00xx by name = %v; want %v", got, want)
	}
	mustContain(t, "user3's filtered requests", body, fmt.Sprintf("Showing 1–%d of %d", len(want), len(want)))
	_, body, _ = user3.get("/dashboard/requests?page=2")
	mustContain(t, "user3's requests, page 1", body, "Showing 1–30 of 30") // past the end: the last page
	_, body, _ = root.get("/dashboard/requests?page=3&sort=user&desc=1")
	mustContain(t, "every request, page 3", body, "Showing 201–300 of 300", `data-request="`+seededRequest(0).ID+`"`)

	// The users page counts each user's requests in the store.
	_, body, _ = root.get("/dashboard/users")
	mustContain(t, "the users page", body, `href="/dashboard/requests?q=user3">30</a>`, `href="/dashboard/requests?q=user0">30</a>`)

	jobRE := regexp.MustCompile(`data-job="(\d+)"`)
	jobs := func(b *browser, path string) ([]string, string) {
		_, body, _ := b.get(path)
		var ids []string
		for _, m := range jobRE.FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
		return ids, body
	}
	ids, body := jobs(root, "/dashboard/jobs")
	if len(ids) != 100 || ids[0] != "275" || ids[99] != "176" {
		t.Errorf("every job, page 1: %d rows %v...; want 275 down to 176", len(ids), ids[:min(3, len(ids))])
	}
	mustContain(t, "every job, page 1", body, "Showing 1–100 of 275", `rel="next"`)
	ids, body = jobs(root, "/dashboard/jobs?page=9")
	if len(ids) != 75 || ids[0] != "75" || ids[74] != "1" {
		t.Errorf("every job, past the end: %d rows; want the last page, 75 down to 1", len(ids))
	}
	mustContain(t, "every job, past the end", body, "Showing 201–275 of 275")
	ids, body = jobs(bob, "/dashboard/jobs")
	if len(ids) != 25 || ids[0] != "275" || ids[24] != "251" {
		t.Errorf("bob's jobs: %v; want his own, 275 down to 251", ids)
	}
	mustContain(t, "bob's jobs", body, "Showing 1–25 of 25")
}
