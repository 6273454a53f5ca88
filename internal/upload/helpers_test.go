package upload

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testServer is the upload handler mounted as the API server mounts it, behind a counter of the blob bytes it
// reads.
type testServer struct {
	dir       string
	base      string // the ".../api/v1/uploads" URL Push takes
	blobBytes atomic.Int64
	patches   atomic.Int64
	srv       *httptest.Server
}

const prefix = "/api/v1/uploads"

func newTestServer(t testing.TB, lim Limits) *testServer {
	t.Helper()
	return newTestServerIn(t, t.TempDir(), lim)
}

// newTestServerIn is newTestServer over the store directory dir.
func newTestServerIn(t testing.TB, dir string, lim Limits) *testServer {
	t.Helper()
	ts := &testServer{dir: dir}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, NewHandler(ts.dir, lim)))
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			ts.patches.Add(1)
			r.Body = &countingBody{ReadCloser: r.Body, n: &ts.blobBytes}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	ts.base = ts.srv.URL + prefix
	return ts
}

// sent returns the blob bytes read since the last call.
func (ts *testServer) sent() int64 { return ts.blobBytes.Swap(0) }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// fastRetries keeps retry waits short in tests.
var fastRetries = PushOptions{Backoff: time.Millisecond}

// writeFiles writes name → content under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// push pushes path and fails the test on error.
func push(t testing.TB, ts *testServer, path string, opts PushOptions) string {
	t.Helper()
	id, err := Push(context.Background(), ts.base, ts.srv.Client(), path, opts)
	if err != nil {
		t.Fatalf("push %s: %v", path, err)
	}
	return id
}

// cuttingProxy forwards TCP connections to target and, once, closes a connection after it has carried cutAfter
// bytes from client to server: a connection dropped in the middle of a request.
type cuttingProxy struct {
	ln       net.Listener
	target   string
	cutAfter int64
	cut      atomic.Bool
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn // closed at cleanup: an idle keep-alive connection would otherwise outlive the test
}

func newCuttingProxy(t *testing.T, target string, cutAfter int64) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, target: target, cutAfter: cutAfter}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cuttingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(c, s)
			c.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.forward(s, c)
			s.Close()
			c.Close()
		}()
	}
}

// forward copies client bytes to the server until the connection ends or is cut.
func (p *cuttingProxy) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.cut.Load() && total+int64(n) > p.cutAfter && p.cut.CompareAndSwap(false, true) {
				dst.Write(buf[:p.cutAfter-total])
				return
			}
			total += int64(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// newServerWith starts a loopback server running f and returns its URL.
func newServerWith(t *testing.T, f http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newDroppingServer serves the upload API but drops the connection of every blob request, calling onDrop
// each time. It returns the server's URL.
func newDroppingServer(t *testing.T, onDrop func()) string {
	t.Helper()
	h := http.StripPrefix(prefix, NewHandler(t.TempDir(), Limits{}))
	return newServerWith(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch {
			h.ServeHTTP(w, r)
			return
		}
		onDrop()
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		c.Close()
	})
}

// assertEmptyStore fails when dir holds any blob, partial blob or tree.
func assertEmptyStore(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"blobs", "partial", "trees", "roots"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("store holds %s", p)
			}
			return nil
		})
	}
}
