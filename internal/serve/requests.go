package serve

import (
	"sync"
	"time"
)

// QPSWindow is the span over which SkyServe's autoscaler measures queries per second.
const QPSWindow = 60 * time.Second

// maxBuckets bounds what the load balancer keeps between two collections (an hour of one-second buckets), so a
// controller that stops collecting cannot make it grow without end.
const maxBuckets = 3600

// Bucket is the number of requests that arrived in one second (Unix seconds).
type Bucket struct {
	Second int64 `json:"second"`
	Count  int64 `json:"count"`
}

// requestCounter counts arrivals per second. One short critical section per request: it is on the proxy's path.
type requestCounter struct {
	mu      sync.Mutex
	buckets []Bucket
}

func (c *requestCounter) record(now time.Time) {
	sec := now.Unix()
	c.mu.Lock()
	if n := len(c.buckets); n > 0 && c.buckets[n-1].Second == sec {
		c.buckets[n-1].Count++
	} else {
		if n >= maxBuckets {
			c.buckets = append(c.buckets[:0], c.buckets[n-maxBuckets+1:]...)
		}
		c.buckets = append(c.buckets, Bucket{Second: sec, Count: 1})
	}
	c.mu.Unlock()
}

// drain returns what was counted since the last drain and starts afresh.
func (c *requestCounter) drain() []Bucket {
	c.mu.Lock()
	out := c.buckets
	c.buckets = nil
	c.mu.Unlock()
	return out
}

// RequestWindow holds the arrivals of the last QPSWindow, fed from the load balancer's buckets. It is the
// autoscaler's, and like it does no I/O and reads no clock.
type RequestWindow struct {
	buckets []Bucket // ascending by Second
}

// Add merges buckets (as Drain returns them) into the window.
func (w *RequestWindow) Add(buckets []Bucket) {
	for _, b := range buckets {
		n := len(w.buckets)
		switch {
		case n > 0 && w.buckets[n-1].Second == b.Second:
			w.buckets[n-1].Count += b.Count
		case n == 0 || w.buckets[n-1].Second < b.Second:
			w.buckets = append(w.buckets, b)
		default: // out of order (a second load balancer, a late report): insert in place
			i := n - 1
			for i > 0 && w.buckets[i-1].Second >= b.Second {
				i--
			}
			if w.buckets[i].Second == b.Second {
				w.buckets[i].Count += b.Count
				continue
			}
			w.buckets = append(w.buckets, Bucket{})
			copy(w.buckets[i+1:], w.buckets[i:])
			w.buckets[i] = b
		}
	}
}

// QPS is the mean rate over the QPSWindow that ends at now, and drops what is older.
func (w *RequestWindow) QPS(now time.Time) float64 {
	// A bucket covers [Second, Second+1); it is in the window when it starts after now-60s.
	cutoff := now.Add(-QPSWindow).Unix()
	i := 0
	for i < len(w.buckets) && w.buckets[i].Second <= cutoff {
		i++
	}
	w.buckets = w.buckets[i:]
	var total int64
	for _, b := range w.buckets {
		if b.Second <= now.Unix() {
			total += b.Count
		}
	}
	return float64(total) / QPSWindow.Seconds()
}
