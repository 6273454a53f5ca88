package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// EachNode joins every node's error, and the first failure cancels the context the others run with.
func TestEachNodeCancelsTheOthersOnFailure(t *testing.T) {
	t.Parallel()
	err := EachNode(context.Background(), 3, func(ctx context.Context, rank int) error {
		if rank == 1 {
			return errors.New("node 1 broke")
		}
		<-ctx.Done() // returns only because rank 1's failure cancelled it
		return fmt.Errorf("node %d: %w", rank, ctx.Err())
	})
	for _, want := range []string{"node 0: context canceled", "node 1 broke", "node 2: context canceled"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("EachNode = %v; want it to contain %q", err, want)
		}
	}
	if err := EachNode(context.Background(), 2, func(context.Context, int) error { return nil }); err != nil {
		t.Errorf("EachNode with no failure = %v", err)
	}
}
