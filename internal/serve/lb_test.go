package serve

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent/agenttls"
)

// replica is a real HTTP server on loopback standing for one replica: "/" answers its name (and echoes a POST
// body), "/hold" answers only once release is closed, "/sse" streams events as the test feeds them; "/stall" sends one chunk and stops, and "/noheaders" on the
// replica named "stalls" never answers.
type replica struct {
	name    string
	srv     *httptest.Server
	release chan struct{}
	events  chan string
	mu      sync.Mutex
	hits    int
}

func newReplica(t *testing.T, name string) *replica {
	t.Helper()
	r := &replica{name: name, release: make(chan struct{}), events: make(chan string)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits++
		r.mu.Unlock()
		switch req.URL.Path {
		case "/hold":
			select {
			case <-r.release:
			case <-req.Context().Done():
				return
			}
		case "/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for ev := range r.events {
				fmt.Fprintf(w, "data: %s\n\n", ev)
				w.(http.Flusher).Flush()
			}
			return
		case "/stall":
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("first\n"))
			w.(http.Flusher).Flush()
			<-req.Context().Done()
			return
		case "/headers":
			fmt.Fprintf(w, "%s %s %s", req.Host, req.Header.Get("X-Forwarded-For"), req.Header.Get("X-Forwarded-Host"))
			return
		case "/noheaders":
			if name == "stalls" {
				<-req.Context().Done()
				return
			}
		}
		body, _ := io.ReadAll(req.Body)
		fmt.Fprintf(w, "%s %s", r.name, body)
	}))
	t.Cleanup(func() {
		r.releaseAll()
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

func (r *replica) releaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

func (r *replica) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// newLB starts a load balancer on loopback over the replicas and returns it with its base URL.
func newLB(t *testing.T, opts Options, replicas ...Replica) (*LoadBalancer, string) {
	t.Helper()
	lb, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.SetReplicas(replicas); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lb.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	return lb, scheme + "://" + ln.Addr().String()
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hold starts a /hold request through the load balancer and waits until some replica counts it as in flight;
// it returns the replica's ID and a channel that yields the response body once the replica releases it.
func hold(t *testing.T, lb *LoadBalancer, base string) (int, <-chan string) {
	t.Helper()
	before := lb.Loads()
	out := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/hold")
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- string(b)
	}()
	id := -1
	waitFor(t, "the held request to reach a replica", func() bool {
		for rid, n := range lb.Loads() {
			if n > before[rid] {
				id = rid
				return true
			}
		}
		return false
	})
	return id, out
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	t.Parallel()
	reps := []*replica{newReplica(t, "a"), newReplica(t, "b"), newReplica(t, "c")}
	_, base := newLB(t, Options{Policy: PolicyRoundRobin},
		Replica{ID: 1, URL: reps[0].srv.URL}, Replica{ID: 2, URL: reps[1].srv.URL}, Replica{ID: 3, URL: reps[2].srv.URL})
	for i := 0; i < 30; i++ {
		if code, _ := get(t, http.DefaultClient, base+"/"); code != 200 {
			t.Fatalf("request %d: status %d", i, code)
		}
	}
	for _, r := range reps {
		if r.count() != 10 {
			t.Errorf("replica %s got %d of 30 requests, want 10", r.name, r.count())
		}
	}
}

func TestLeastLoadAvoidsTheBusyReplica(t *testing.T) {
	t.Parallel()
	a, b := newReplica(t, "a"), newReplica(t, "b")
	lb, base := newLB(t, Options{}, Replica{ID: 1, URL: a.srv.URL}, Replica{ID: 2, URL: b.srv.URL})
	busy, done := hold(t, lb, base)
	idle := map[int]string{1: "b", 2: "a"}[busy]
	for i := 0; i < 10; i++ {
		if _, body := get(t, http.DefaultClient, base+"/"); !strings.HasPrefix(body, idle) {
			t.Fatalf("request %d went to %q while replica %d holds a request", i, body, busy)
		}
	}
	a.releaseAll()
	b.releaseAll()
	<-done
	waitFor(t, "the held request to be counted out", func() bool { return lb.Loads()[busy] == 0 })
	// Idle replicas share sequential requests.
	before := a.count()
	for i := 0; i < 10; i++ {
		get(t, http.DefaultClient, base+"/")
	}
	if n := a.count() - before; n < 3 || n > 7 {
		t.Errorf("idle replicas split 10 sequential requests %d/%d", n, 10-n)
	}
}

func TestInstanceAwareWeighsByAccelerator(t *testing.T) {
	t.Parallel()
	big, small := newReplica(t, "big"), newReplica(t, "small")
	lb, base := newLB(t, Options{Policy: PolicyInstanceAwareLeastLoad, TargetQPSPerAccelerator: map[string]float64{"A100:1": 10, "L4": 1}},
		Replica{ID: 1, URL: big.srv.URL, Accelerator: "A100"}, Replica{ID: 2, URL: small.srv.URL, Accelerator: "L4"})
	for i := 0; i < 5; i++ {
		hold(t, lb, base)
	}
	// load/target: the L4 replica is full at 1 request, the A100 one only at 10.
	if got := lb.Loads(); got[1] != 4 || got[2] != 1 {
		t.Errorf("loads = %v, want 4 on the A100 replica and 1 on the L4 one", got)
	}
	big.releaseAll()
	small.releaseAll()
}

func TestFailedAttemptRetriesOnAnotherReplica(t *testing.T) {
	t.Parallel()
	alive := newReplica(t, "alive")
	// A port nothing listens on (connection refused) and a listener that resets every connection.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	resetter, _ := net.Listen("tcp", "127.0.0.1:0")
	var resets sync.WaitGroup
	resets.Add(1)
	go func() {
		defer resets.Done()
		for {
			c, err := resetter.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() { resetter.Close(); resets.Wait() })

	lb, base := newLB(t, Options{Policy: PolicyRoundRobin},
		Replica{ID: 1, URL: deadURL}, Replica{ID: 2, URL: "http://" + resetter.Addr().String()}, Replica{ID: 3, URL: alive.srv.URL})
	for i := 0; i < 12; i++ {
		resp, err := http.Post(base+"/echo", "application/json", strings.NewReader(`{"n":`+fmt.Sprint(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf(`alive {"n":%d}`, i); resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
	}
	if alive.count() != 12 {
		t.Errorf("alive replica answered %d of 12", alive.count())
	}
	if lb.Loads()[3] != 0 {
		t.Errorf("loads after the requests = %v", lb.Loads())
	}
	// A streamed (unsized) body that no replica read is sent again too.
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("streamed")); pw.Close() }()
	resp, err := http.Post(base+"/echo", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "alive streamed" {
		t.Errorf("streamed body: %d %q", resp.StatusCode, b)
	}
}

func TestHostAndForwardedHeaders(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "r")
	_, base := newLB(t, Options{}, Replica{ID: 1, URL: r.srv.URL})
	req, _ := http.NewRequest("GET", base+"/headers", nil)
	req.Host = "svc.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(b); got != "svc.example.com 127.0.0.1 svc.example.com" {
		t.Errorf("replica saw Host, X-Forwarded-For, X-Forwarded-Host = %q", got)
	}
}

func TestNoReplicaAndAllDead(t *testing.T) {
	t.Parallel()
	lb, base := newLB(t, Options{Service: "svc"})
	code, body := get(t, http.DefaultClient, base+"/")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `No ready replicas. Use "stix serve status svc"`) {
		t.Errorf("no replicas: %d %q", code, body)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	if err := lb.SetReplicas([]Replica{{ID: 1, URL: deadURL}}); err != nil {
		t.Fatal(err)
	}
	code, body = get(t, http.DefaultClient, base+"/")
	if code != http.StatusInternalServerError || !strings.Contains(body, "max retries 1 exceeded") || !strings.Contains(body, "connection refused") {
		t.Errorf("all dead: %d %q", code, body)
	}
	if err := lb.SetReplicas([]Replica{{ID: 1, URL: "10.0.0.1:80"}}); err == nil || !strings.Contains(err.Error(), "replica 1") {
		t.Errorf("SetReplicas with a bad URL: %v", err)
	}
	if _, err := New(Options{Policy: "random"}); err == nil || !strings.Contains(err.Error(), `unknown load balancing policy "random"`) {
		t.Errorf("New with an unknown policy: %v", err)
	}
}

// syncBuffer is a log destination the load balancer's goroutines write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoadBalancerLog: the log says when the load balancer starts and stops, each change of its replica set
// and policy, each failed attempt and each request no replica answered — and nothing per request answered.
func TestLoadBalancerLog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ok := newReplica(t, "ok")
	ctx, cancel := context.WithCancel(context.Background())
	lb, err := New(Options{Service: "svc", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lb.Serve(ctx, ln, time.Second) }()
	base := "http://" + ln.Addr().String()
	waitFor(t, "the start logged", func() bool { return strings.Contains(buf.String(), "load balancer started") })
	if code, _ := get(t, http.DefaultClient, base+"/none"); code != http.StatusServiceUnavailable {
		t.Fatalf("no replica: %d", code)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	if err := lb.SetReplicas([]Replica{{ID: 7, URL: deadURL}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, http.DefaultClient, base+"/dead"); code != http.StatusInternalServerError {
		t.Fatalf("dead replica: %d", code)
	}
	set := []Replica{{ID: 8, URL: ok.srv.URL}}
	for range 2 { // the same set twice: one change
		if err := lb.SetReplicas(set); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if code, _ := get(t, http.DefaultClient, base+"/fine"); code != http.StatusOK {
			t.Fatalf("live replica: %d", code)
		}
	}
	if err := lb.SetPolicy("round_robin", nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"load balancer started", `msg="no ready replica" service=svc method=GET path=/none status=503`,
		`msg="replica set changed" service=svc replicas="7=` + deadURL + `"`,
		`msg="attempt failed" service=svc replica=7`, `msg="request failed" service=svc method=GET path=/dead status=500`,
		`msg="replica set changed" service=svc replicas="8=` + ok.srv.URL + `"`, `msg="policy set" service=svc policy=round_robin`,
		"load balancer stopped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "replica set changed"); n != 2 {
		t.Errorf("%d replica set changes logged, want 2:\n%s", n, got)
	}
	if strings.Contains(got, "/fine") {
		t.Errorf("answered requests logged:\n%s", got)
	}
}

func TestRemovedReplicaFinishesInFlight(t *testing.T) {
	t.Parallel()
	a, b := newReplica(t, "a"), newReplica(t, "b")
	lb, base := newLB(t, Options{Policy: PolicyRoundRobin}, Replica{ID: 1, URL: a.srv.URL})
	id, done := hold(t, lb, base)
	if id != 1 {
		t.Fatalf("held on replica %d", id)
	}
	if err := lb.SetReplicas([]Replica{{ID: 2, URL: b.srv.URL}}); err != nil {
		t.Fatal(err)
	}
	// The change applies to the very next request.
	for i := 0; i < 5; i++ {
		if _, body := get(t, http.DefaultClient, base+"/"); !strings.HasPrefix(body, "b") {
			t.Fatalf("request %d after the removal went to %q", i, body)
		}
	}
	a.releaseAll()
	if got := <-done; got != "a " {
		t.Errorf("the in-flight request on the removed replica got %q, want its answer", got)
	}
	if loads := lb.Loads(); len(loads) != 1 || loads[2] != 0 {
		t.Errorf("loads = %v", loads)
	}
}

// TestReplicaSetChurnDropsNothing: requests from many clients while the replica set changes under them all get
// an answer, and every replica's load count returns to zero.
func TestReplicaSetChurnDropsNothing(t *testing.T) {
	t.Parallel()
	reps := []*replica{newReplica(t, "a"), newReplica(t, "b"), newReplica(t, "c")}
	sets := [][]Replica{
		{{ID: 1, URL: reps[0].srv.URL}, {ID: 2, URL: reps[1].srv.URL}},
		{{ID: 2, URL: reps[1].srv.URL}, {ID: 3, URL: reps[2].srv.URL}},
		{{ID: 3, URL: reps[2].srv.URL}},
		{{ID: 1, URL: reps[0].srv.URL}, {ID: 2, URL: reps[1].srv.URL}, {ID: 3, URL: reps[2].srv.URL}},
	}
	lb, base := newLB(t, Options{}, sets[0]...)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				resp, err := http.Post(base+"/", "text/plain", strings.NewReader("x"))
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasSuffix(string(b), " x") {
					errs <- fmt.Sprintf("%d %q", resp.StatusCode, b)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for i := 0; ; i++ {
		select {
		case <-done:
		default:
			if err := lb.SetReplicas(sets[i%len(sets)]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		break
	}
	close(errs)
	for e := range errs {
		t.Errorf("request failed during churn: %s", e)
	}
	waitFor(t, "every load count to return to zero", func() bool {
		for _, n := range lb.Loads() {
			if n != 0 {
				return false
			}
		}
		return true
	})
}

func TestStreamPassesThroughChunkByChunk(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "s")
	_, base := newLB(t, Options{}, Replica{ID: 1, URL: r.srv.URL})
	// A deadline that fails the test rather than hanging it if the load balancer held events back.
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Get(base + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		// The replica writes the next event only now: reading it proves the previous one was not held back.
		r.events <- fmt.Sprint(i)
		line, err := rd.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		if blank, _ := rd.ReadString('\n'); blank != "\n" {
			t.Fatalf("event %d not terminated: %q", i, blank)
		}
	}
	close(r.events)
	if rest, _ := io.ReadAll(rd); len(rest) != 0 {
		t.Errorf("trailing bytes %q", rest)
	}
}

func TestStreamTimeout(t *testing.T) {
	t.Parallel()
	stalls, answers := newReplica(t, "stalls"), newReplica(t, "answers")
	lb, base := newLB(t, Options{Policy: PolicyRoundRobin, StreamTimeout: time.Second},
		Replica{ID: 1, URL: stalls.srv.URL})
	// A body that stops mid-way is cut off once no chunk came within the timeout.
	resp, err := http.Get(base + "/stall")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "first\n" || err == nil {
		t.Errorf("stalled body: %q, %v; want the first chunk then an error", b, err)
	}
	waitFor(t, "the stalled request to be counted out", func() bool { return lb.Loads()[1] == 0 })
	// A replica that sends no headers within the timeout is retried elsewhere.
	if err := lb.SetReplicas([]Replica{{ID: 1, URL: stalls.srv.URL}, {ID: 2, URL: answers.srv.URL}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if code, body := get(t, http.DefaultClient, base+"/noheaders"); code != 200 || body != "answers " {
			t.Errorf("request %d: %d %q", i, code, body)
		}
	}
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	ca, err := agenttls.NewCA("svc")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	r := newReplica(t, "r")
	_, base := newLB(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, Replica{ID: 1, URL: r.srv.URL})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if code, body := get(t, c, base+"/"); code != 200 || body != "r " {
		t.Errorf("over HTTPS: %d %q", code, body)
	}
	// Plain HTTP to the HTTPS port is refused.
	if resp, err := http.Get(strings.Replace(base, "https", "http", 1)); err == nil {
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200")
		}
		resp.Body.Close()
	}
}

func TestRequestCountsFollowTheClock(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "r")
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	lb, base := newLB(t, Options{Now: clock}, Replica{ID: 1, URL: r.srv.URL})
	for i := 0; i < 5; i++ {
		get(t, http.DefaultClient, base+"/")
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	for i := 0; i < 3; i++ {
		get(t, http.DefaultClient, base+"/")
	}
	got := lb.Drain()
	if want := []Bucket{{1000, 5}, {1002, 3}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Drain = %v, want %v", got, want)
	}
	if again := lb.Drain(); len(again) != 0 {
		t.Errorf("second Drain = %v, want nothing", again)
	}
}

// TestUpgradePassesThrough: an upgraded connection (as WebSocket does) is relayed both ways, and counted out
// when it closes.
func TestUpgradePassesThrough(t *testing.T) {
	t.Parallel()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		_, _ = io.Copy(conn, rw)
	}))
	defer echo.Close()
	lb, base := newLB(t, Options{}, Replica{ID: 1, URL: echo.URL})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for _, msg := range []string{"ping\n", "pong\n"} {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got, err := rd.ReadString('\n'); err != nil || got != msg {
			t.Fatalf("echo of %q: %q %v", msg, got, err)
		}
	}
	if lb.Loads()[1] != 1 {
		t.Errorf("load while upgraded = %v, want 1", lb.Loads())
	}
	conn.Close()
	waitFor(t, "the upgraded connection to be counted out", func() bool { return lb.Loads()[1] == 0 })
}

// A replica that reads a whole chunked request body and then resets the connection: the body was consumed, so
// only a body the LB kept can be sent again. Small bodies are kept whatever their framing.
func TestChunkedBodyReadByFailedReplicaIsSentAgain(t *testing.T) {
	t.Parallel()
	alive := newReplica(t, "alive")
	reader, _ := net.Listen("tcp", "127.0.0.1:0")
	var tried atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := reader.Accept()
			if err != nil {
				return
			}
			tried.Add(1)
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err == nil {
				io.Copy(io.Discard, req.Body)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() { reader.Close(); wg.Wait() })

	_, base := newLB(t, Options{Policy: PolicyRoundRobin},
		Replica{ID: 1, URL: "http://" + reader.Addr().String()}, Replica{ID: 2, URL: alive.srv.URL})
	for i := 0; i < 4; i++ {
		pr, pw := io.Pipe()
		go func() { fmt.Fprintf(pw, `{"n":%d}`, i); pw.Close() }()
		resp, err := http.Post(base+"/echo", "application/json", pr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf(`alive {"n":%d}`, i); resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
	}
	if tried.Load() == 0 {
		t.Fatal("the failing replica was never tried: the test proves nothing")
	}
}
