package stix_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stix-run/stix/api"
)

// waitservice NAME STATUS [READY] waits until `serve status` shows the service in STATUS (with READY ready
// replicas when given); STATUS "gone" waits until it is not listed.
func waitService(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: waitservice NAME STATUS|gone [READY]")
	}
	name, want, ready := args[0], args[1], -1
	if len(args) == 3 {
		ready, _ = strconv.Atoi(args[2])
	}
	poll(ts, fmt.Sprintf("service %s to be %s", name, want), func() (bool, error) {
		out, err := stix(ts, "serve", "status", "-o", "json", name)
		if err != nil {
			return false, err
		}
		var ss []api.Service
		if err := json.Unmarshal([]byte(out), &ss); err != nil {
			return false, err
		}
		if len(ss) == 0 {
			return want == "gone", fmt.Errorf("service %s not listed", name)
		}
		n := 0
		for _, r := range ss[0].Replicas {
			if r.Status == "READY" {
				n++
			}
		}
		return string(ss[0].Status) == want && (ready < 0 || n == ready), fmt.Errorf("service %s is %s with %d ready", name, ss[0].Status, n)
	})
}

// serveget NAME N sends N GETs of /id through the service's endpoint: each must answer 200. The replica IDs
// that answered go to stdout, sorted and distinct, space-separated.
func serveGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serveget NAME N")
	}
	out, err := stix(ts, "serve", "status", "--endpoint", args[0])
	if err != nil {
		ts.Fatalf("serve status --endpoint: %v", err)
	}
	ep := strings.TrimSpace(out)
	n, _ := strconv.Atoi(args[1])
	seen := map[int]bool{}
	for range n {
		resp, err := http.Get("http://" + ep + "/id")
		if err != nil {
			ts.Fatalf("GET through %s: %v", ep, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			ts.Fatalf("GET through %s: %d %s", ep, resp.StatusCode, b)
		}
		id, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		seen[id] = true
	}
	var ids []string
	for id := 1; len(ids) < len(seen); id++ {
		if seen[id] {
			ids = append(ids, strconv.Itoa(id))
		}
	}
	fmt.Fprintln(ts.Stdout(), strings.Join(ids, " "))
}
