package stixcmd

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
)

// TestServerClientAnswersJobs: the client the API server serves answers managed jobs through its controller,
// where the embedded core alone says they need a server.
func TestServerClientAnswersJobs(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	defer core.Close()
	ctx := context.Background()
	if _, err := core.JobsQueue(ctx, api.JobsQueueOptions{}); err == nil {
		t.Fatal("the embedded core answered jobs queue")
	}
	state, err := core.StateLocation()
	if err != nil {
		t.Fatal(err)
	}
	ctl, closeJobs, err := startJobs(ctx, core, state, filepath.Join(home, "server"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeJobs()
	rows, err := ctl.Client().JobsQueue(ctx, api.JobsQueueOptions{})
	if err != nil || len(rows) != 0 {
		t.Fatalf("jobs queue through the server's client: %+v, %v", rows, err)
	}
}
