package dashboard_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
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

// TestManagedJobsFilteredAndSortedFromTheStore: the managed jobs page filters by state and text, sorts by any
// column and pages in the store, with the filtered count, a user's own jobs alone; a pipeline between its
// tasks (the job row STARTING, the next task PENDING) is PENDING on the page, filtered or not.
func TestManagedJobsFilteredAndSortedFromTheStore(t *testing.T) {
	t.Parallel()
	f := newFleetStore(t, 0, 250, 0) // managed jobs: 1-250 alice's, 251-275 bob's
	sq, ok := store.SQLOf(f.st)
	if !ok {
		t.Fatal("the store is not SQL")
	}
	// Job 100 is between two tasks: its first done, its second not started.
	if _, err := sq.DB.Exec(`UPDATE managed_jobs SET status = 'STARTING', ended_at = NULL WHERE id = 100`); err != nil {
		t.Fatal(err)
	}
	if _, err := sq.DB.Exec(`INSERT INTO managed_job_tasks (job_id, task_id, name, resources, status) VALUES (100, 1, 'eval', '1x[cpus=2+]', 'PENDING')`); err != nil {
		t.Fatal(err)
	}
	s := f.serve(t, server.Options{Auth: auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser}})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	dir := filepath.Join(f.home, "server")
	as := func(name, role string) *browser {
		b := newBrowser(t, hs.URL)
		b.login(createToken(t, hs.URL, dir, name, role))
		return b
	}
	root, bob := as("root", "admin"), as("bob", "user")
	jobRE := regexp.MustCompile(`data-job="(\d+)"`)
	check := func(b *browser, path, want, showing string) string {
		t.Helper()
		_, body, _ := b.get(path)
		var ids []string
		for _, m := range jobRE.FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
		if got := strings.Join(ids, " "); got != want {
			t.Errorf("%s: jobs %q; want %q", path, got, want)
		}
		if showing != "" {
			mustContain(t, path, body, showing)
		}
		return body
	}
	// Names containing train-12, in any case: 12 and 120-129.
	check(root, "/dashboard/jobs?q=Train-12", "129 128 127 126 125 124 123 122 121 120 12", "Showing 1–11 of 11")
	check(root, "/dashboard/jobs?q=train-12&sort=name", "12 120 121 122 123 124 125 126 127 128 129", "Showing 1–11 of 11")
	check(bob, "/dashboard/jobs?q=train-12", "", "")
	check(bob, "/dashboard/jobs?q=train-26&sort=name&desc=1", "269 268 267 266 265 264 263 262 261 260", "Showing 1–10 of 10")
	// Sorted by user descending, ties by ID descending: bob's 275-251, then alice's; page 2 is 175-76.
	body := check(root, "/dashboard/jobs?sort=user&desc=1&page=2", strings.TrimSpace(func() string {
		var b strings.Builder
		for i := 175; i > 75; i-- {
			fmt.Fprintf(&b, "%d ", i)
		}
		return b.String()
	}()), "Showing 101–200 of 275")
	mustContain(t, "the pipeline between tasks, sorted", body, `<tr data-job="100">`)
	body = check(root, "/dashboard/jobs?state=PENDING", "100", "Showing 1–1 of 1")
	mustContain(t, "the pipeline between tasks", body, `data-state>PENDING<`)
	check(root, "/dashboard/jobs?state=STARTING", "", "")
	// Every job but 100 SUCCEEDED with one recovery: ties by ID ascending, page 3 is 202-275.
	check(root, "/dashboard/jobs?state=SUCCEEDED&sort=recoveries&page=3", strings.TrimSpace(func() string {
		var b strings.Builder
		for i := 202; i <= 275; i++ {
			fmt.Fprintf(&b, "%d ", i)
		}
		return b.String()
	}()), "Showing 201–274 of 274")
	_, body, _ = root.get("/dashboard/jobs?page=2")
	if i := strings.Index(body, `<tr data-job="100">`); i < 0 || !strings.Contains(body[i:], `data-state>PENDING<`) {
		t.Errorf("job 100 on the default order's page 2 is not PENDING")
	}

	// The page's live states are of its own rows (the page its query selects now) and of the jobs it shows:
	// not the whole queue.
	body = check(root, "/dashboard/jobs?state=PENDING", "100", "")
	mustContain(t, "the filtered page's stream", body, `data-states="/dashboard/events/jobs?desc=1&amp;id=100&amp;sort=id&amp;state=PENDING"`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/dashboard/events/jobs?state=PENDING&id=100&id=5", nil)
	resp, err := root.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	select {
	case ev := <-readEvents(t, resp):
		var got map[string]string
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil || ev.name != "states" {
			t.Fatalf("first event %q %q: %v", ev.name, ev.data, err)
		}
		if want := map[string]string{"100": "PENDING", "5": "SUCCEEDED"}; !maps.Equal(got, want) {
			t.Errorf("the filtered page's states = %v; want %v", got, want)
		}
	case <-ctx.Done():
		t.Fatal("no states within 30 s")
	}
}
