package optimizer

import (
	"fmt"
	"math"
	"strings"
)

// MaxSearchNodes bounds the branch-and-bound search of a general (non-chain) DAG. Egress depends only on the
// pair of clouds, so each task's choice is among its best offer per cloud (about ten), and the bound prunes
// most of the tree: a DAG of 8 tasks over 8 clouds is well within it. Chains use dynamic programming and have
// no limit.
const MaxSearchNodes = 1_000_000

// score is an objective value: lexicographic (primary, secondary). Cost: (dollars, 0). Time: (hours, dollars).
type score struct{ primary, secondary float64 }

// less compares lexicographically, treating values within a relative 1e-9 as equal: the same plan summed in a
// different order must not win a tie by rounding noise.
func (a score) less(b score) bool {
	if !near(a.primary, b.primary) {
		return a.primary < b.primary
	}
	return !near(a.secondary, b.secondary) && a.secondary < b.secondary
}

func near(x, y float64) bool {
	return math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
}

func (a score) add(b score) score { return score{a.primary + b.primary, a.secondary + b.secondary} }

// search holds what the exact searches need: per task (by index), its best candidate per cloud in candidate
// order, and the DAG.
type search struct {
	p     *Problem
	order []int
	reps  [][]candidate // per task: best candidate per cloud, in lessCandidate order
	preds [][]int
}

func newSearch(p *Problem, pools [][]candidate, order []int) *search {
	s := &search{p: p, order: order, reps: make([][]candidate, len(pools)), preds: make([][]int, len(pools))}
	for i, pool := range pools {
		seen := map[string]bool{}
		for _, c := range pool { // pools are sorted: the first of each cloud is its best
			k := strings.ToLower(c.offer.Cloud)
			if !seen[k] {
				seen[k] = true
				s.reps[i] = append(s.reps[i], c)
			}
		}
	}
	if p.Edges == nil {
		for i := 1; i < len(pools); i++ {
			s.preds[i] = []int{i - 1}
		}
	} else {
		dup := map[[2]int]bool{}
		for _, e := range p.Edges {
			if !dup[e] {
				dup[e] = true
				s.preds[e[1]] = append(s.preds[e[1]], e[0])
			}
		}
	}
	return s
}

// exec is the value of running task i on candidate c, egress aside.
func (s *search) exec(i int, c *candidate) score {
	if s.p.Objective == Time {
		return score{HoursPerTask, c.cost * HoursPerTask}
	}
	return score{c.cost * HoursPerTask, 0}
}

// edge is the value of moving task u's outputs from cloud a to task v on cloud b.
func (s *search) edge(u int, a, b string) score {
	gb := s.p.Tasks[u].OutputsGB
	cost := EgressCost(a, b, gb)
	if s.p.Objective == Time {
		return score{EgressSeconds(a, b, gb) / 3600, cost}
	}
	return score{cost, 0}
}

// inputs is the value of reading task i's inputs onto cloud b (tasks without predecessors only).
func (s *search) inputs(i int, b string) score {
	t := &s.p.Tasks[i]
	if len(s.preds[i]) > 0 || t.InputsGB == 0 {
		return score{}
	}
	cost := EgressCost(t.InputsCloud, b, t.InputsGB)
	if s.p.Objective == Time {
		return score{EgressSeconds(t.InputsCloud, b, t.InputsGB) / 3600, cost}
	}
	return score{cost, 0}
}

// chainDP solves a chain exactly. It runs backwards (best[k][c] = the best value of positions k.. given
// position k takes candidate c) and then picks forwards, so exact ties go to the earlier task's preferred
// candidate, as in the branch-and-bound search.
func (s *search) chainDP() []int {
	n := len(s.order)
	best := make([][]score, n)
	for k := n - 1; k >= 0; k-- {
		i := s.order[k]
		best[k] = make([]score, len(s.reps[i]))
		for ci := range s.reps[i] {
			c := &s.reps[i][ci]
			v := s.exec(i, c)
			if k+1 < n {
				j := s.order[k+1]
				v = v.add(s.nextBest(i, c.offer.Cloud, j, best[k+1]))
			}
			best[k][ci] = v
		}
	}
	picks := make([]int, len(s.p.Tasks))
	prev := -1
	for k := 0; k < n; k++ {
		i := s.order[k]
		bi := -1
		var bv score
		for ci := range s.reps[i] {
			c := &s.reps[i][ci]
			v := best[k][ci]
			if k == 0 {
				v = v.add(s.inputs(i, c.offer.Cloud))
			} else {
				pi := s.order[k-1]
				v = v.add(s.edge(pi, s.reps[pi][prev].offer.Cloud, c.offer.Cloud))
			}
			if bi < 0 || v.less(bv) {
				bi, bv = ci, v
			}
		}
		picks[i], prev = bi, bi
	}
	return picks
}

// nextBest is min over the next task's candidates of egress from (task i on cloud a) plus their best value.
func (s *search) nextBest(i int, a string, j int, next []score) score {
	var bv score
	for cj := range s.reps[j] {
		v := s.edge(i, a, s.reps[j][cj].offer.Cloud).add(next[cj])
		if cj == 0 || v.less(bv) {
			bv = v
		}
	}
	return bv
}

// branchAndBound solves a general DAG exactly by depth-first search over tasks in topological order, trying
// each task's candidates cheapest first and pruning any branch whose lower bound (value so far plus every
// remaining task's cheapest run, egress taken as free) cannot beat the best plan found. The first optimal plan
// in that order wins ties.
func (s *search) branchAndBound() ([]int, error) {
	n := len(s.order)
	// Lower bound on what positions k.. add: their cheapest runs.
	rest := make([]score, n+1)
	for k := n - 1; k >= 0; k-- {
		i := s.order[k]
		lo := s.exec(i, &s.reps[i][0])
		for ci := range s.reps[i] {
			if v := s.exec(i, &s.reps[i][ci]); v.less(lo) {
				lo = v
			}
		}
		if s.p.Objective == Time {
			lo.primary = 0 // finish times overlap on parallel branches: only the dollars add up
		}
		rest[k] = rest[k+1].add(lo)
	}
	picks := make([]int, len(s.p.Tasks))
	finish := make([]float64, len(s.p.Tasks)) // Time: each task's finish (hours)
	bestPicks := make([]int, len(s.p.Tasks))
	found := false
	var best score
	visited := 0
	var dfs func(k int, acc score) error
	dfs = func(k int, acc score) error {
		if k == n {
			if !found || acc.less(best) {
				found, best = true, acc
				copy(bestPicks, picks)
			}
			return nil
		}
		i := s.order[k]
		for ci := range s.reps[i] {
			visited++
			if visited > MaxSearchNodes {
				return fmt.Errorf("%w: over %d search steps for %d tasks; split the DAG or pin some tasks to a cloud", ErrDAGTooLarge, MaxSearchNodes, len(s.p.Tasks))
			}
			c := &s.reps[i][ci]
			picks[i] = ci
			next := acc
			if s.p.Objective == Time {
				start := s.inputs(i, c.offer.Cloud).primary
				cost := c.cost*HoursPerTask + s.inputs(i, c.offer.Cloud).secondary
				for _, u := range s.preds[i] {
					e := s.edge(u, s.reps[u][picks[u]].offer.Cloud, c.offer.Cloud)
					start = math.Max(start, finish[u]+e.primary)
					cost += e.secondary
				}
				finish[i] = start + HoursPerTask
				next = score{math.Max(acc.primary, finish[i]), acc.secondary + cost}
			} else {
				next = next.add(s.exec(i, c)).add(s.inputs(i, c.offer.Cloud))
				for _, u := range s.preds[i] {
					next = next.add(s.edge(u, s.reps[u][picks[u]].offer.Cloud, c.offer.Cloud))
				}
			}
			if found && !next.add(rest[k+1]).less(best) {
				continue
			}
			if err := dfs(k+1, next); err != nil {
				return err
			}
		}
		return nil
	}
	if err := dfs(0, score{}); err != nil {
		return nil, err
	}
	return bestPicks, nil
}

// plan turns per-task picks (indices into reps) into a Plan with its egress legs and totals.
func (s *search) plan(picks []int) *Plan {
	p := s.p
	plan := &Plan{Objective: p.Objective, Tasks: make([]Assignment, len(p.Tasks))}
	for i := range p.Tasks {
		c := s.reps[i][picks[i]]
		t := &p.Tasks[i]
		plan.Tasks[i] = Assignment{Task: taskLabel(t, i), Index: i, Nodes: t.Nodes, Offer: c.offer, Cost: c.cost, Alternative: c.alt}
		plan.Cost += c.cost * HoursPerTask
	}
	finish := make([]float64, len(p.Tasks))
	for _, i := range s.order {
		to := plan.Tasks[i].Offer.Cloud
		t := &p.Tasks[i]
		start := 0.0
		if len(s.preds[i]) == 0 && t.InputsGB > 0 {
			leg := EgressLeg{From: -1, To: i, FromCloud: t.InputsCloud, ToCloud: to, GB: t.InputsGB,
				Cost: EgressCost(t.InputsCloud, to, t.InputsGB), Seconds: EgressSeconds(t.InputsCloud, to, t.InputsGB)}
			start = leg.Seconds / 3600
			s.addLeg(plan, leg)
		}
		for _, u := range s.preds[i] {
			from := plan.Tasks[u].Offer.Cloud
			gb := p.Tasks[u].OutputsGB
			leg := EgressLeg{From: u, To: i, FromCloud: from, ToCloud: to, GB: gb,
				Cost: EgressCost(from, to, gb), Seconds: EgressSeconds(from, to, gb)}
			start = math.Max(start, finish[u]+leg.Seconds/3600)
			s.addLeg(plan, leg)
		}
		finish[i] = start + HoursPerTask
		plan.Hours = math.Max(plan.Hours, finish[i])
	}
	return plan
}

// addLeg records a transfer that crosses clouds and moves data.
func (s *search) addLeg(plan *Plan, leg EgressLeg) {
	if leg.GB <= 0 || sameCloud(leg.FromCloud, leg.ToCloud) || leg.FromCloud == "" {
		return
	}
	plan.Egress = append(plan.Egress, leg)
	plan.Cost += leg.Cost
}
