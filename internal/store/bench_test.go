package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkOpenAndList100 is what `stix status` pays for the state: open the store, list 100 clusters, close.
func BenchmarkOpenAndList100(b *testing.B) {
	ctx := context.Background()
	home := b.TempDir()
	s, err := Open(ctx, home)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if err := s.PutCluster(ctx, sampleCluster(fmt.Sprintf("cluster-%03d", i))); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	for b.Loop() {
		s, err := Open(ctx, home)
		if err != nil {
			b.Fatal(err)
		}
		list, err := s.ListClusters(ctx)
		if err != nil || len(list) != 100 {
			b.Fatalf("ListClusters: %d clusters, %v", len(list), err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutCluster is the cost of one state write (an upsert with its usage bookkeeping).
func BenchmarkPutCluster(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := sampleCluster("c")
	for b.Loop() {
		if err := s.PutCluster(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
