package restapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

func TestCallSendsKeyAndBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer k" || r.URL.Path != "/v1/x" || string(b) != `{"a":1}` ||
			r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write([]byte("answer"))
	}))
	defer srv.Close()
	t.Setenv("STIX_TEST_ENDPOINT", srv.URL+"/v1/")
	c := New(Endpoint("STIX_TEST_ENDPOINT", "https://unused"), "k")
	status, data, err := c.Call(context.Background(), http.MethodPost, "/x", map[string]int{"a": 1})
	if err != nil || status != http.StatusOK || string(data) != "answer" {
		t.Fatalf("Call = %d %q %v, want 200 \"answer\"", status, data, err)
	}
	r, err := c.Request(http.MethodDelete, "/y", nil)
	if err != nil || r.URL != srv.URL+"/v1/y" || r.Body != "" || r.Header["Content-Type"] != "" {
		t.Fatalf("Request = %+v, %v", r, err)
	}
}

func TestEndpointDefault(t *testing.T) {
	t.Setenv("STIX_TEST_ENDPOINT", "")
	if got := Endpoint("STIX_TEST_ENDPOINT", "https://api"); got != "https://api" {
		t.Fatalf("Endpoint = %q", got)
	}
}

func TestCutAndUnanswered(t *testing.T) {
	if got := Cut(strings.Repeat("x", 400)); len(got) != 300 {
		t.Fatalf("Cut gave %d bytes", len(got))
	}
	place := cloud.Place{Cloud: "c", Region: "r"}
	var capacity *cloud.CapacityError
	if err := Unanswered("c", "C's API", "list", place, errors.New("refused")); !errors.As(err, &capacity) ||
		capacity.Reason != "list: C's API is unreachable" || capacity.Place != (cloud.Place{Cloud: "c"}) {
		t.Fatalf("Unanswered = %v", err)
	}
	if err := Unanswered("c", "C's API", "list", place, context.Canceled); !errors.Is(err, context.Canceled) || errors.As(err, &capacity) {
		t.Fatalf("Unanswered(cancelled) = %v", err)
	}
}
