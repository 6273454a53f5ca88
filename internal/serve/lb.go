package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SkyServe's load-balancer settings.
const (
	// DefaultStreamTimeout bounds the wait for a replica's response headers and for each chunk of its body.
	DefaultStreamTimeout = 120 * time.Second
	// DefaultMaxAttempts is how many replicas one request may try (SkyServe's LB_MAX_RETRY).
	DefaultMaxAttempts = 3
	// DefaultConnectTimeout bounds connecting to a replica: a dead one fails over quickly.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultEjectFor is how long a replica whose connection failed is passed over, until the controller's probe
	// decides about it (it pushes the new replica set) or the time is up and it is tried again.
	DefaultEjectFor = 5 * time.Second
	// maxBufferedBody is the largest request body kept in memory so that it can be sent again to another replica.
	// Larger (or unsized) bodies stream, and are retried only when the failed attempt read none of them.
	maxBufferedBody = 1 << 20
)

// ErrNoReplicas is the error for a request that arrives while no replica is ready.
var ErrNoReplicas = errors.New("no ready replicas")

// Replica is a ready replica, as the controller pushes it.
type Replica struct {
	ID          int    `json:"id"`
	URL         string `json:"url"`                   // http://host:port of the replica's service
	Accelerator string `json:"accelerator,omitempty"` // e.g. "A100", for instance_aware_least_load
}

// Options configure a LoadBalancer.
type Options struct {
	// Service names the service in error messages.
	Service string
	// Policy is one of least_load (the default), round_robin, instance_aware_least_load.
	Policy string
	// TargetQPSPerAccelerator weighs replicas for instance_aware_least_load (service.replica_policy.
	// target_qps_per_replica given per accelerator).
	TargetQPSPerAccelerator map[string]float64
	// StreamTimeout bounds the wait for response headers and for each chunk of a response body
	// (SkyServe's stream_timeout_seconds); 0 means DefaultStreamTimeout.
	StreamTimeout time.Duration
	// MaxAttempts, ConnectTimeout, EjectFor: 0 means the Default of each.
	MaxAttempts    int
	ConnectTimeout time.Duration
	EjectFor       time.Duration
	// TLS, when set, makes Serve speak HTTPS (service.tls).
	TLS *tls.Config
	// Now is the clock of the request counts and ejections; nil means time.Now.
	Now func() time.Time
	// Log is the load balancer's log (`stix serve logs --load-balancer`): its start and stop, every change of
	// the replica set or policy, every failed attempt (then retried elsewhere) and every request no replica
	// answered. Requests answered are not logged, one by one. nil discards it.
	Log *slog.Logger
}

// LoadBalancer proxies each request to one ready replica. The controller pushes the replica set with
// SetReplicas; a change applies to the next request, and requests in flight finish where they are.
type LoadBalancer struct {
	opts     Options
	proxy    *httputil.ReverseProxy
	current  atomic.Pointer[snapshot]
	mu       sync.Mutex // serialises changes of current
	requests requestCounter
}

// snapshot is an immutable replica set with the policy it is picked by; a change swaps in a new one.
type snapshot struct {
	policy   policy
	perAcc   map[string]float64
	backends []*backend
	weights  []float64      // per backend: the accelerator's target QPS for instance_aware_least_load, else 1
	next     *atomic.Uint64 // rotation, shared across snapshots so a change does not restart it
}

// New makes a load balancer with no replicas (every request gets 503 until SetReplicas).
func New(opts Options) (*LoadBalancer, error) {
	p, err := parsePolicy(opts.Policy)
	if err != nil {
		return nil, err
	}
	if opts.StreamTimeout <= 0 {
		opts.StreamTimeout = DefaultStreamTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.EjectFor <= 0 {
		opts.EjectFor = DefaultEjectFor
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	lb := &LoadBalancer{opts: opts}
	lb.current.Store(&snapshot{policy: p, perAcc: opts.TargetQPSPerAccelerator, next: new(atomic.Uint64)})
	lb.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The replica is chosen per attempt by the transport; the Host header stays the client's.
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "replica"
			pr.SetXForwarded()
		},
		Transport:    &attempts{lb: lb},
		BufferPool:   bufferPool{},
		ErrorHandler: lb.proxyError,
	}
	return lb, nil
}

// SetReplicas replaces the ready replicas. Replicas that stay (same URL) keep their load count and connections;
// removed ones take no new request and close their connections once their requests are done.
func (lb *LoadBalancer) SetReplicas(replicas []Replica) error {
	parsed := make([]*url.URL, len(replicas))
	for i, r := range replicas {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("replica %d: URL %q is not http(s)://host:port", r.ID, r.URL)
		}
		parsed[i] = u
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	old := lb.current.Load()
	byURL := make(map[string]*backend, len(old.backends))
	for _, b := range old.backends {
		byURL[b.URL] = b
	}
	next := &snapshot{policy: old.policy, perAcc: old.perAcc, next: old.next}
	for i, r := range replicas {
		// A backend is immutable but for its counters: a replica whose ID or accelerator changed gets a new one.
		b := byURL[r.URL]
		if b == nil || b.Replica != r {
			b = &backend{Replica: r, scheme: parsed[i].Scheme, host: parsed[i].Host, transport: lb.newTransport()}
		} else {
			delete(byURL, r.URL)
		}
		next.backends = append(next.backends, b)
	}
	next.weigh()
	lb.current.Store(next)
	for _, b := range byURL {
		b.removed.Store(true)
		b.transport.CloseIdleConnections()
	}
	if len(byURL) > 0 || len(next.backends) != len(old.backends) || !sameBackends(old.backends, next.backends) {
		lb.opts.Log.Info("replica set changed", "service", lb.opts.Service, "replicas", describe(next.backends))
	}
	return nil
}

// sameBackends reports whether two replica sets hold the same backends in the same order.
func sameBackends(a, b []*backend) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// describe lists a replica set for the log: "1=http://10.0.0.1:8080 2=...", or "none".
func describe(bs []*backend) string {
	if len(bs) == 0 {
		return "none"
	}
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf("%d=%s", b.ID, b.URL)
	}
	return strings.Join(parts, " ")
}

// SetPolicy changes the policy (a `serve update` that changes load_balancing_policy or the per-accelerator QPS).
func (lb *LoadBalancer) SetPolicy(name string, perAcc map[string]float64) error {
	p, err := parsePolicy(name)
	if err != nil {
		return err
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	old := lb.current.Load()
	next := &snapshot{policy: p, perAcc: perAcc, backends: old.backends, next: old.next}
	next.weigh()
	lb.current.Store(next)
	lb.opts.Log.Info("policy set", "service", lb.opts.Service, "policy", name)
	return nil
}

// weigh sets the weight of each backend for the snapshot's policy.
func (s *snapshot) weigh() {
	s.weights = make([]float64, len(s.backends))
	for i, b := range s.backends {
		s.weights[i] = 1
		if s.policy == instanceAware {
			s.weights[i] = targetQPS(s.perAcc, b.Accelerator)
		}
	}
}

// Replicas returns the current replica set.
func (lb *LoadBalancer) Replicas() []Replica {
	s := lb.current.Load()
	out := make([]Replica, len(s.backends))
	for i, b := range s.backends {
		out[i] = b.Replica
	}
	return out
}

// Loads returns each current replica's requests in flight, by replica ID.
func (lb *LoadBalancer) Loads() map[int]int64 {
	s := lb.current.Load()
	out := make(map[int]int64, len(s.backends))
	for _, b := range s.backends {
		out[b.ID] = b.load.Load()
	}
	return out
}

// Drain returns the per-second request counts since the last Drain, for the autoscaler's RequestWindow.
func (lb *LoadBalancer) Drain() []Bucket { return lb.requests.drain() }

// ServeHTTP counts the request (every arrival counts towards QPS, answered or not, as in SkyServe) and proxies it.
func (lb *LoadBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.requests.record(lb.opts.Now())
	lb.proxy.ServeHTTP(w, r)
}

// Serve answers on ln until ctx ends, then stops taking connections and lets requests in flight finish for up to
// grace before closing what is left.
func (lb *LoadBalancer) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	if lb.opts.TLS != nil {
		ln = tls.NewListener(ln, lb.opts.TLS)
	}
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(lb.opts.Log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	lb.opts.Log.Info("load balancer started", "service", lb.opts.Service, "addr", ln.Addr().String())
	defer lb.opts.Log.Info("load balancer stopped", "service", lb.opts.Service)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	<-done
	return nil
}

// proxyError answers a request no replica answered, with SkyServe's status codes: 503 when none is ready, 499
// when the client went away, 500 when every attempt failed.
func (lb *LoadBalancer) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	name := lb.opts.Service
	if name == "" {
		name = "SERVICE_NAME"
	}
	switch {
	case errors.Is(err, ErrNoReplicas):
		lb.opts.Log.Warn("no ready replica", "service", lb.opts.Service, "method", r.Method, "path", r.URL.Path, "status", http.StatusServiceUnavailable)
		http.Error(w, fmt.Sprintf("No ready replicas. Use \"stix serve status %s\" to check the replica status.", name), http.StatusServiceUnavailable)
	case r.Context().Err() != nil:
		lb.opts.Log.Info("client went away", "service", lb.opts.Service, "method", r.Method, "path", r.URL.Path, "status", 499)
		w.WriteHeader(499) // the client closed the request; nobody reads this
	default:
		lb.opts.Log.Warn("request failed", "service", lb.opts.Service, "method", r.Method, "path", r.URL.Path, "status", http.StatusInternalServerError, "err", err)
		http.Error(w, fmt.Sprintf("%v. Use \"stix serve logs %s --load-balancer\" for more information.", err, name), http.StatusInternalServerError)
	}
}

// bufferPool lends the proxy its copy buffers, so a proxied body costs no allocation.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
