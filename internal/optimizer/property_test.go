package optimizer_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
)

// TestPropertyCheapest: for random requests over the snapshot, the chosen offer is one a source returned and
// costs no more than any feasible offer of any source; when there is no plan, no source had an offer.
func TestPropertyCheapest(t *testing.T) {
	cat, srcs := snapshotSources(t)
	accs := []string{"", "", "A100", "H100", "T4", "L4", "A10G", "V100", "L40S", "RTX4090", "A100-80GB", "tpu-v4-8", "h100"}
	rng := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 300; i++ {
		req := cloud.Requirements{UseSpot: rng.IntN(4) == 0}
		if a := accs[rng.IntN(len(accs))]; a != "" {
			req.Accelerators = map[string]float64{a: []float64{1, 2, 4, 8}[rng.IntN(4)]}
		}
		if rng.IntN(2) == 0 {
			req.CPUs = cloud.Amount{Value: []float64{2, 4, 8, 16, 32}[rng.IntN(5)], OrMore: rng.IntN(3) > 0}
		}
		if rng.IntN(3) == 0 {
			req.Memory = cloud.Memory{Value: []float64{4, 16, 32, 64}[rng.IntN(4)], OrMore: rng.IntN(3) > 0}
		}
		nodes := 1 + rng.IntN(3)
		var blocked []cloud.Scope
		if rng.IntN(4) == 0 {
			blocked = append(blocked, cloud.Scope{Level: cloud.LevelCloud, Cloud: cat.Names()[rng.IntN(len(cat.Names()))]})
		}
		name := fmt.Sprintf("req%d %+v nodes=%d blocked=%v", i, req, nodes, blocked)
		task := optimizer.Task{Name: "t", Nodes: nodes, Alternatives: []optimizer.Alternative{{Req: req}}}
		plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: []optimizer.Task{task}, Sources: srcs, Blocked: blocked})

		// The oracle asks every source directly.
		best := math.Inf(1)
		var offered []cloud.Offer
		for _, s := range srcs {
			r := req
			r.NumNodes = nodes
			offers, ferr := s.Feasible(r)
			if ferr != nil {
				continue
			}
			for _, o := range offers {
				if blockedOffer(blocked, o) {
					continue
				}
				offered = append(offered, o)
				best = math.Min(best, o.HourlyPrice*float64(nodes))
			}
		}
		if err != nil {
			var nr *optimizer.NoResourcesError
			if !errors.As(err, &nr) {
				t.Fatalf("%s: unexpected error %v", name, err)
			}
			if len(offered) > 0 {
				t.Fatalf("%s: no plan, but sources offered %d (cheapest $%v)", name, len(offered), best)
			}
			continue
		}
		got := plan.Tasks[0]
		if got.Cost > best+1e-9 {
			t.Fatalf("%s: chose $%v (%+v), a feasible offer costs $%v", name, got.Cost, got.Offer, best)
		}
		found := false
		for _, o := range offered {
			if reflect.DeepEqual(o, got.Offer) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("%s: chosen offer %+v is not one the sources returned", name, got.Offer)
		}
	}
}

func blockedOffer(blocked []cloud.Scope, o cloud.Offer) bool {
	for _, b := range blocked {
		if b.Covers(o.Cloud, o.Region, o.Zone) {
			return true
		}
	}
	return false
}

// priceTable is a synthetic world: per task, the hourly price on each cloud (absent: not offered).
type priceTable []map[string]float64

var worldClouds = []string{"aws", "azure", "gcp", "lambda", "runpod"}

// sources serves a price table: every cloud answers the task whose name its request carries in Labels.
func (pt priceTable) sources() []optimizer.Source {
	var out []optimizer.Source
	for _, c := range worldClouds {
		out = append(out, optimizer.SourceFunc{CloudName: c, Func: func(req cloud.Requirements) ([]cloud.Offer, error) {
			var i int
			fmt.Sscan(req.Labels["task"], &i)
			p, ok := pt[i][c]
			if !ok {
				return nil, &cloud.InfeasibleError{Cloud: c, Reasons: []string{"not offered"}}
			}
			return []cloud.Offer{{Cloud: c, Region: "r", InstanceType: "x", HourlyPrice: p}}, nil
		}})
	}
	return out
}

func randomWorld(rng *rand.Rand, n int) (priceTable, []optimizer.Task) {
	pt := make(priceTable, n)
	tasks := make([]optimizer.Task, n)
	for i := range pt {
		pt[i] = map[string]float64{}
		for _, c := range worldClouds {
			if rng.IntN(4) > 0 {
				pt[i][c] = float64(rng.IntN(40)) / 4 // coarse prices: many exact ties
			}
		}
		if len(pt[i]) == 0 {
			pt[i]["aws"] = 1
		}
		tasks[i] = optimizer.Task{
			Name: fmt.Sprint(i), Nodes: 1 + rng.IntN(2),
			Alternatives: []optimizer.Alternative{{Req: cloud.Requirements{Labels: map[string]string{"task": fmt.Sprint(i)}}}},
			OutputsGB:    float64(rng.IntN(3) * 40),
		}
		if rng.IntN(3) == 0 {
			tasks[i].InputsGB, tasks[i].InputsCloud = float64(rng.IntN(100)), worldClouds[rng.IntN(3)]
		}
	}
	return pt, tasks
}

// bruteForce evaluates every assignment of clouds to tasks and returns the best (time, cost) or cost.
func bruteForce(pt priceTable, tasks []optimizer.Task, edges [][2]int, obj optimizer.Objective) (bestCost, bestTime float64) {
	n := len(tasks)
	preds := make([][]int, n)
	if edges == nil {
		for i := 1; i < n; i++ {
			preds[i] = []int{i - 1}
		}
	}
	for _, e := range edges {
		preds[e[1]] = append(preds[e[1]], e[0])
	}
	pick := make([]string, n)
	bestCost, bestTime = math.Inf(1), math.Inf(1)
	var rec func(i int)
	rec = func(i int) {
		if i == n {
			cost := 0.0
			finish := make([]float64, n)
			total := 0.0
			// Tasks are numbered in a topological order in these worlds.
			for v := 0; v < n; v++ {
				cost += pt[v][pick[v]] * float64(tasks[v].Nodes)
				start := 0.0
				if len(preds[v]) == 0 {
					cost += optimizer.EgressCost(tasks[v].InputsCloud, pick[v], tasks[v].InputsGB)
					start = optimizer.EgressSeconds(tasks[v].InputsCloud, pick[v], tasks[v].InputsGB) / 3600
				}
				for _, u := range preds[v] {
					cost += optimizer.EgressCost(pick[u], pick[v], tasks[u].OutputsGB)
					start = math.Max(start, finish[u]+optimizer.EgressSeconds(pick[u], pick[v], tasks[u].OutputsGB)/3600)
				}
				finish[v] = start + 1
				total = math.Max(total, finish[v])
			}
			better := cost < bestCost-1e-9
			if obj == optimizer.Time {
				better = total < bestTime-1e-9 || (math.Abs(total-bestTime) <= 1e-9 && cost < bestCost-1e-9)
			}
			if better {
				bestCost, bestTime = cost, total
			}
			return
		}
		for c := range pt[i] {
			pick[i] = c
			rec(i + 1)
		}
	}
	rec(0)
	return bestCost, bestTime
}

// TestExactSearchMatchesBruteForce checks the chain DP and the DAG branch and bound against exhaustive search
// on random worlds, for both objectives.
func TestExactSearchMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 400; i++ {
		n := 1 + rng.IntN(6)
		pt, tasks := randomWorld(rng, n)
		var edges [][2]int
		kind := "chain"
		if i%2 == 1 && n > 2 {
			kind = "dag"
			for v := 1; v < n; v++ {
				for u := 0; u < v; u++ {
					if rng.IntN(3) == 0 {
						edges = append(edges, [2]int{u, v})
					}
				}
			}
			if edges == nil {
				edges = [][2]int{{0, n - 1}}
			}
		}
		obj := optimizer.Objective(rng.IntN(2))
		plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: tasks, Edges: edges, Sources: pt.sources(), Objective: obj})
		if err != nil {
			t.Fatalf("world %d (%s): %v", i, kind, err)
		}
		wantCost, wantTime := bruteForce(pt, tasks, edges, obj)
		if obj == optimizer.Time && math.Abs(plan.Hours-wantTime) > 1e-9 {
			t.Fatalf("world %d (%s, time): plan takes %v h, best is %v h", i, kind, plan.Hours, wantTime)
		}
		if math.Abs(plan.Cost-wantCost) > 1e-9 {
			t.Fatalf("world %d (%s, %s): plan costs %v, best is %v\nplan: %+v", i, kind, obj, plan.Cost, wantCost, plan.Tasks)
		}
	}
}
