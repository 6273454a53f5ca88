// Command seed fills a STIX_HOME's state database (or a PostgreSQL one, -db) with N stopped clusters, for benchmarking `stix status`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/stix-run/stix/internal/store"
)

func main() {
	home := flag.String("home", "", "STIX_HOME to fill")
	n := flag.Int("n", 100, "number of clusters")
	db := flag.String("db", "", "a PostgreSQL URI to fill instead of the home's SQLite database")
	flag.Parse()
	if err := seed(store.Location{Home: *home, DB: *db, DBOrigin: "-db"}, *n); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func seed(loc store.Location, n int) error {
	ctx := context.Background()
	st, err := store.OpenAt(ctx, loc)
	if err != nil {
		return err
	}
	defer st.Close()
	// Owned by the OS user, as `stix launch` records them, so that a status through a local API server (which lists
	// the caller's clusters) sees all n.
	owner := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		owner = u.Username
	}
	now := time.Now()
	for i := range n {
		c := &store.Cluster{
			Name: fmt.Sprintf("bench-%03d", i), Status: store.StatusStopped, Cloud: "aws", Region: "us-east-1",
			NumNodes: 1 + i%4, HourlyPrice: 0.384, LaunchedAt: now.Add(-time.Duration(i) * time.Minute),
			Resources: store.Resources{InstanceType: "m6i.2xlarge", CPUs: 8, MemoryGB: 32, DiskSizeGB: 256},
			Autostop:  store.Autostop{IdleMinutes: store.AutostopOff}, User: owner,
		}
		if err := st.PutCluster(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
