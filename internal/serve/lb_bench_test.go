package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkProxy is the load balancer's cost per request over loopback, against the same requests sent straight to
// the replica (go test -run '^$' -bench Proxy ./internal/serve/); bench/lb is the end-to-end comparison.
func BenchmarkProxy(b *testing.B) {
	replica := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer replica.Close()
	lb, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := lb.SetReplicas([]Replica{{ID: 1, URL: replica.URL}}); err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(lb)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	for _, target := range []struct{ name, url string }{{"direct", replica.URL}, {"lb", front.URL}} {
		b.Run(target.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(target.url + "/")
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
