package cloud

import (
	"context"
	"errors"
	"sync"
)

// EachNode runs fn for ranks 0..n-1 at once and returns, when every call has, their errors joined: the one
// fan-out over a cluster's nodes. The first failure cancels the context the other calls get, so a launch stops
// waiting on nodes that no longer matter; best-effort work (stop, terminate, status) ignores that context and
// uses its own.
func EachNode(ctx context.Context, n int, fn func(ctx context.Context, rank int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for rank := range n {
		wg.Go(func() {
			if errs[rank] = fn(ctx, rank); errs[rank] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
