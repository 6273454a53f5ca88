// Package optimizer chooses where each task of a pipeline or DAG runs: the cheapest (or fastest) feasible offer
// per task, counting egress between clouds, as SkyPilot's optimizer does. It is pure: it reads its input, does
// no I/O, reads no clock and never mutates what it is given. Sources answer from memory (the catalog's index,
// free infra measured beforehand). See docs/optimizer.md.
package optimizer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
)

// Objective is what the optimizer minimizes.
type Objective int

const (
	// Cost minimizes the estimated dollars: each task's hourly price × nodes for its (one hour) run, plus
	// egress between tasks on different clouds. The default.
	Cost Objective = iota
	// Time minimizes the estimated finish time (each task one hour, plus transfer time between clouds); ties
	// go to the cheaper plan.
	Time
)

func (o Objective) String() string {
	if o == Time {
		return "time"
	}
	return "cost"
}

// Source answers which offers of one infra fit a requirement. It must answer from memory: the catalog's
// in-memory index (*catalog.Cloud implements Source), or free infra whose capacity was measured before
// planning. When nothing fits it returns an error, ideally one that unwraps to *cloud.InfeasibleError; errors
// may also offer DidYouMean() []string and FixHints() []string, which the explanation collects.
type Source interface {
	Name() string
	Feasible(req cloud.Requirements) ([]cloud.Offer, error)
}

// SourceFunc adapts a function to a Source.
type SourceFunc struct {
	CloudName string
	Func      func(req cloud.Requirements) ([]cloud.Offer, error)
}

// Name returns CloudName.
func (s SourceFunc) Name() string { return s.CloudName }

// Feasible calls Func.
func (s SourceFunc) Feasible(req cloud.Requirements) ([]cloud.Offer, error) { return s.Func(req) }

// Task is one task to place.
type Task struct {
	Name  string
	Nodes int // at least 1: spec.Task.NumNodes, which spec defaults
	// Alternatives are the acceptable resources: any of them, cheapest wins; or, with Ordered, the first that
	// has any offer (SkyPilot's any_of / ordered, and accelerator sets / lists).
	Alternatives []Alternative
	Ordered      bool
	// InputsGB of data read from InputsCloud ("aws" for s3://...) by a task without predecessors; OutputsGB of
	// data handed to each successor. Both feed egress estimates; zero means none.
	InputsGB    float64
	InputsCloud string
	OutputsGB   float64
}

// Alternative is one acceptable kind of node.
type Alternative struct {
	// Cloud restricts the alternative to one infra (its Source's Name); empty means any.
	Cloud string
	// Req is what each node needs. Its NumNodes is replaced by the task's Nodes.
	Req cloud.Requirements
	// Regions, when set, restricts offers to these regions (an image_id given per region).
	Regions []string
	// Unmet, when set, says why nothing can satisfy this alternative (e.g. no accelerator has the memory
	// asked); the alternative gets no offers and the reason shows in the explanation.
	Unmet string
	// Candidate is the index, among the task's resources candidates (spec.Resources.Candidates), of the one this
	// alternative came from: an accelerator asked for by memory gives several alternatives of one candidate.
	Candidate int
}

// Problem is the optimizer's whole input.
type Problem struct {
	Tasks []Task
	// Edges are dependencies (from, to) between task indices. Nil means the tasks run in order, one after
	// another (a pipeline).
	Edges [][2]int
	// Sources are the infra that charge for what they offer (the catalog's clouds), in a fixed order.
	Sources []Source
	// Free are infra the user already has (local, ssh node pools, docker); their offers cost 0.
	Free []Source
	// UseFree lets tasks that name no infra use Free sources. Tasks that name a free infra get it regardless.
	// When to set it is the caller's policy.
	UseFree bool
	// Blocked rules out clouds, regions or zones (the failover loop's block list).
	Blocked []cloud.Scope
	// Objective is Cost unless set.
	Objective Objective
}

// Plan is the optimizer's answer.
type Plan struct {
	Objective Objective
	// Tasks are in the input's order.
	Tasks []Assignment
	// Egress lists the data transfers between clouds the plan implies.
	Egress []EgressLeg
	// Cost is the estimated total in USD: one hour of every task plus egress.
	Cost float64
	// Hours is the estimated finish time of the whole DAG.
	Hours float64
}

// Assignment is one task's placement.
type Assignment struct {
	Task  string
	Index int
	Nodes int
	Offer cloud.Offer
	// Cost is Offer.HourlyPrice × Nodes: USD per hour.
	Cost float64
	// Alternative is the index in Task.Alternatives the offer answers.
	Alternative int
}

// EgressLeg is data moving between clouds: from task From (-1: the task's inputs) to task To.
type EgressLeg struct {
	From, To           int
	FromCloud, ToCloud string
	GB                 float64
	Cost               float64 // USD
	Seconds            float64
}

// HoursPerTask is the run time the optimizer assumes for every task, as SkyPilot does without a time
// estimator: costs are per-hour estimates.
const HoursPerTask = 1.0

// Optimize places every task. The error is a *NoResourcesError when some task has no feasible offer, a
// *ProblemError when the input is malformed (a cycle, an edge out of range), ErrDAGTooLarge when an exact search
// of a general DAG would exceed its budget, or a Source's own error for a task that names that infra (an
// invalid region, say). The explanation is returned whenever candidates were gathered, errors included.
func Optimize(p Problem) (*Plan, *Explanation, error) {
	order, chain, err := topoOrder(len(p.Tasks), p.Edges)
	if err != nil {
		return nil, nil, err
	}
	for i, t := range p.Tasks {
		if t.Nodes < 1 {
			return nil, nil, &ProblemError{fmt.Sprintf("task %s asks for %d nodes: at least 1", taskLabel(&t, i), t.Nodes)}
		}
	}
	ex := &Explanation{Objective: p.Objective, Tasks: make([]TaskExplanation, len(p.Tasks))}
	pools := make([][]candidate, len(p.Tasks))
	for i := range p.Tasks {
		g, err := gather(&p, i)
		ex.Tasks[i] = g.explanation
		if err != nil {
			return nil, ex, err
		}
		if len(g.chosen) == 0 {
			return nil, ex, &NoResourcesError{Task: taskLabel(&p.Tasks[i], i), Index: i, Explanation: g.explanation}
		}
		pools[i] = g.chosen
	}
	s := newSearch(&p, pools, order)
	var picks []int
	if chain {
		picks = s.chainDP()
	} else if picks, err = s.branchAndBound(); err != nil {
		return nil, ex, err
	}
	plan := s.plan(picks)
	for i := range ex.Tasks {
		ex.Tasks[i].Rows = tableRows(&p.Tasks[i], ex.Tasks[i].candidates, plan.Tasks[i])
		ex.Tasks[i].Chosen = plan.Tasks[i].Offer
	}
	return plan, ex, nil
}

// ProblemError is a malformed Problem.
type ProblemError struct{ Msg string }

func (e *ProblemError) Error() string { return "optimizer: " + e.Msg }

// ErrDAGTooLarge is returned when the exact search of a general DAG exceeds MaxSearchNodes.
var ErrDAGTooLarge = errors.New("optimizer: the task DAG is too large to plan exactly")

// topoOrder returns the tasks in a topological order (Kahn's, smallest index first) and whether the DAG is a
// chain that visits every task.
func topoOrder(n int, edges [][2]int) ([]int, bool, error) {
	if n == 0 {
		return nil, false, &ProblemError{"no tasks to plan"}
	}
	if edges == nil {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order, true, nil
	}
	indeg := make([]int, n)
	out := make([][]int, n)
	seen := map[[2]int]bool{}
	for _, e := range edges {
		if e[0] < 0 || e[0] >= n || e[1] < 0 || e[1] >= n {
			return nil, false, &ProblemError{fmt.Sprintf("edge %d->%d names a task that does not exist (%d tasks)", e[0], e[1], n)}
		}
		if e[0] == e[1] {
			return nil, false, &ProblemError{fmt.Sprintf("task %d depends on itself", e[0])}
		}
		if seen[e] {
			continue
		}
		seen[e] = true
		indeg[e[1]]++
		out[e[0]] = append(out[e[0]], e[1])
	}
	var order []int
	done := make([]bool, n)
	for len(order) < n {
		next := -1
		for i := 0; i < n; i++ {
			if !done[i] && indeg[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			var stuck []string
			for i := 0; i < n; i++ {
				if !done[i] {
					stuck = append(stuck, fmt.Sprint(i))
				}
			}
			return nil, false, &ProblemError{"the task graph has a cycle through tasks " + strings.Join(stuck, ", ")}
		}
		done[next] = true
		order = append(order, next)
		for _, v := range out[next] {
			indeg[v]--
		}
	}
	chain := len(seen) == n-1
	for i := 0; chain && i+1 < n; i++ {
		chain = seen[[2]int{order[i], order[i+1]}]
	}
	return order, chain, nil
}

func taskLabel(t *Task, i int) string {
	if t.Name != "" {
		return t.Name
	}
	return fmt.Sprintf("#%d", i+1)
}
