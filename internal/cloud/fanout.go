package cloud

import (
	"context"
	"errors"
	"sync"
)

// EachNode runs fn for ranks 0..n-1 at once and returns, when every call has, their errors joined: the one
// fan-out over a cluster's nodes. The first failure cancels the context the other calls get, so a launch stops
// waiting on nodes that no longer matter; best-effort work (stop, terminate, status) ignores that context and
// uses its own. The cancellation errors of the calls it ended are left out: they say nothing about their node,
// and a context.Canceled in the result would read as the user's interrupt.
func EachNode(ctx context.Context, n int, fn func(ctx context.Context, rank int) error) error {
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	first := -1 // the rank whose failure cancelled inner
	var mu sync.Mutex
	var wg sync.WaitGroup
	for rank := range n {
		wg.Go(func() {
			err := fn(inner, rank)
			errs[rank] = err
			if err != nil {
				mu.Lock()
				if first < 0 {
					first = rank
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil && first >= 0 {
		for rank, err := range errs {
			if rank != first && errors.Is(err, context.Canceled) {
				errs[rank] = nil
			}
		}
	}
	return errors.Join(errs...)
}
