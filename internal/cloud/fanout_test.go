package cloud

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// The first failure cancels the context the others run with; their cancellations are left out of the error
// (a context.Canceled there reads as the user's interrupt), their own failures are not.
func TestEachNodeCancelsTheOthersOnFailure(t *testing.T) {
	t.Parallel()
	err := EachNode(context.Background(), 3, func(ctx context.Context, rank int) error {
		switch rank {
		case 1:
			return errors.New("node 1 broke")
		case 2:
			<-ctx.Done() // returns only because rank 1's failure cancelled it
			return errors.New("node 2 broke too")
		}
		<-ctx.Done()
		return fmt.Errorf("node %d: %w", rank, ctx.Err())
	})
	if err == nil || err.Error() != "node 1 broke\nnode 2 broke too" || errors.Is(err, context.Canceled) {
		t.Errorf("EachNode = %q; want node 1's and node 2's errors, and no cancellation", err)
	}
	if err := EachNode(context.Background(), 2, func(context.Context, int) error { return nil }); err != nil {
		t.Errorf("EachNode with no failure = %v", err)
	}
}
