package cloud

import (
	"errors"
	"sync"
)

// EachNode runs fn for ranks 0..n-1 at once and returns, when every call has, their errors joined: the one
// fan-out over a cluster's nodes that providers share.
func EachNode(n int, fn func(rank int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for rank := range n {
		wg.Go(func() { errs[rank] = fn(rank) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
