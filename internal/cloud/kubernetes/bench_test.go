package kubernetes

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/testutil/kubetest"
)

// BenchmarkProvision measures launch-to-running on the test plane: pods created, scheduled, running, and the
// agent deployed and healthy in each (then the cluster is torn down, outside the timer).
//
//	go test -run '^$' -bench Provision -benchtime 3x ./internal/cloud/kubernetes
func BenchmarkProvision(b *testing.B) {
	kubetest.Require(b, plane)
	if err := plane.AddNode(context.Background(), kubetest.Node{Name: "bench-cpu"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { plane.DeleteNode(context.Background(), "bench-cpu") })
	for _, nodes := range []int{1, 4} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			p := benchProvider(b)
			ctx := context.Background()
			req := cloud.Requirements{NumNodes: nodes, CPUs: cloud.Amount{Value: 1}}
			f, err := p.Offers(ctx)
			if err != nil {
				b.Fatal(err)
			}
			offers, err := f(req)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("bench%d-%d", nodes, i)
				info, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name}, Offer: offers[0], Requirements: req})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := p.Terminate(ctx, cloud.ClusterRef{Name: name, Handle: info.Handle}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkQuery20 measures what `status -r` asks of the provider for 20 clusters: one Query each (a label-
// selected pod list), in sequence.
//
//	go test -run '^$' -bench Query20 -benchtime 20x ./internal/cloud/kubernetes
func BenchmarkQuery20(b *testing.B) {
	kubetest.Require(b, plane)
	ctx := context.Background()
	if err := plane.AddNode(ctx, kubetest.Node{Name: "bench-q"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { plane.DeleteNode(context.Background(), "bench-q") })
	p := benchProvider(b)
	req := cloud.Requirements{CPUs: cloud.Amount{Value: 0.5}, Memory: cloud.Memory{Value: 0.5}}
	f, err := p.Offers(ctx)
	if err != nil {
		b.Fatal(err)
	}
	offers, err := f(req)
	if err != nil {
		b.Fatal(err)
	}
	var refs []cloud.ClusterRef
	for i := range 20 {
		name := fmt.Sprintf("q%d", i)
		info, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name}, Offer: offers[0], Requirements: req})
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, cloud.ClusterRef{Name: name, Handle: info.Handle})
	}
	b.Cleanup(func() {
		for _, r := range refs {
			p.Terminate(context.Background(), r)
		}
	})
	for b.Loop() {
		for _, r := range refs {
			st, err := p.Query(ctx, r)
			if err != nil || len(st) != 1 || st[0].Status != cloud.NodeRunning {
				b.Fatalf("query %s: %+v, %v", r.Name, st, err)
			}
		}
	}
}

// BenchmarkBarePods is BenchmarkProvision's baseline: the same pods created through the API and waited for until
// they run, with no Service, no agent and no stix around them.
func BenchmarkBarePods(b *testing.B) {
	kubetest.Require(b, plane)
	ctx := context.Background()
	if err := plane.AddNode(ctx, kubetest.Node{Name: "bench-bare"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { plane.DeleteNode(context.Background(), "bench-bare") })
	p := benchProvider(b)
	for _, nodes := range []int{1, 4} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				cluster := fmt.Sprintf("bare%d-%d", nodes, i)
				for rank := range nodes {
					obj, err := p.podObject(cluster, rank, "", DefaultImage, shape{cpus: 1, memoryGB: 1}, nil, nil)
					if err != nil {
						b.Fatal(err)
					}
					if err := plane.Client.Create(ctx, kubeapi.NSPath("default", "pods", ""), obj, nil); err != nil {
						b.Fatal(err)
					}
				}
				var names []string
				for rank := range nodes {
					names = append(names, p.podName(cluster, rank))
				}
				if _, err := p.waitRunning(ctx, plane.Client, cloud.Place{Cloud: Name}, "default", cluster, names, time.Minute); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				p.terminate(ctx, plane.Client, "default", cluster)
				b.StartTimer()
			}
		})
	}
}
