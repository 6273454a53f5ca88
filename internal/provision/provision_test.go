package provision

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud"
)

// The planner and provisioner here are test doubles of the loop's two inputs: the algorithm is under test.

var offers = []cloud.Offer{ // cheapest first, as the optimizer would rank them
	{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a", InstanceType: "p4d.24xlarge", HourlyPrice: 30},
	{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1b", InstanceType: "p4d.24xlarge", HourlyPrice: 30},
	{Cloud: "aws", Region: "us-west-2", Zone: "us-west-2a", InstanceType: "p4d.24xlarge", HourlyPrice: 31},
	{Cloud: "gcp", Region: "us-central1", Zone: "us-central1-a", InstanceType: "a2-highgpu-8g", HourlyPrice: 32},
	{Cloud: "azure", Region: "eastus", InstanceType: "Standard_ND96asr_v4", HourlyPrice: 33},
}

// planner offers the cheapest offer no blocked scope covers, recording what it was asked.
func planner(calls *[][]cloud.Scope) Planner {
	return func(blocked []cloud.Scope) (Assignment, error) {
		*calls = append(*calls, append([]cloud.Scope(nil), blocked...))
	next:
		for _, o := range offers {
			for _, s := range blocked {
				if s.Covers(o.Cloud, o.Region, o.Zone) {
					continue next
				}
			}
			return Assignment{Offer: o}, nil
		}
		return Assignment{}, errors.New("no resources left")
	}
}

// scripted fails each place with the error listed for its zone (or region), and succeeds elsewhere.
func scripted(fail map[string]error, tried *[]string) Provisioner {
	return func(_ context.Context, a Assignment) (*cloud.ClusterInfo, error) {
		o := a.Offer
		*tried = append(*tried, place(o))
		for _, key := range []string{o.Zone, o.Region, o.Cloud} {
			if err, ok := fail[key]; ok && key != "" {
				return nil, err
			}
		}
		return &cloud.ClusterInfo{Cloud: o.Cloud, Region: o.Region, Zone: o.Zone}, nil
	}
}

func TestFailoverBlocksByErrorScope(t *testing.T) {
	t.Parallel()
	var calls [][]cloud.Scope
	var tried []string
	fail := map[string]error{
		// capacity blocks one zone: the next zone of the same region is tried
		"us-east-1a": &cloud.CapacityError{Place: cloud.Place{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a"}},
		// quota blocks the region: us-east-1b is never tried again after this
		"us-east-1b": &cloud.QuotaError{Place: cloud.Place{Cloud: "aws", Region: "us-east-1"}},
		// auth blocks the whole cloud: no other AWS region is tried
		"us-west-2a": &cloud.AuthError{Place: cloud.Place{Cloud: "aws"}},
	}
	info, a, attempts, err := Loop{Plan: planner(&calls), Provision: scripted(fail, &tried)}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Cloud != "gcp" || a.Offer.InstanceType != "a2-highgpu-8g" {
		t.Errorf("landed on %s %s, want gcp a2-highgpu-8g", info.Cloud, a.Offer.InstanceType)
	}
	want := []string{"aws/us-east-1/us-east-1a", "aws/us-east-1/us-east-1b", "aws/us-west-2/us-west-2a", "gcp/us-central1/us-central1-a"}
	if strings.Join(tried, " ") != strings.Join(want, " ") {
		t.Errorf("tried %v, want %v", tried, want)
	}
	if len(attempts) != 3 {
		t.Errorf("%d failed attempts recorded, want 3", len(attempts))
	}
	last := calls[len(calls)-1]
	if len(last) != 3 || last[0].Level != cloud.LevelZone || last[1].Level != cloud.LevelRegion || last[2].Level != cloud.LevelCloud {
		t.Errorf("final block list %v, want zone, region, cloud", last)
	}
}

func TestAllFailGivesTable(t *testing.T) {
	t.Parallel()
	var calls [][]cloud.Scope
	var tried []string
	fail := map[string]error{
		"aws":   &cloud.CapacityError{Place: cloud.Place{Cloud: "aws"}, Reason: "InsufficientInstanceCapacity"},
		"gcp":   &cloud.QuotaError{Place: cloud.Place{Cloud: "gcp", Region: "us-central1"}, Reason: "GPUS_ALL_REGIONS exceeded"},
		"azure": &cloud.AuthError{Place: cloud.Place{Cloud: "azure"}, Reason: "no subscription"},
	}
	_, _, _, err := Loop{Plan: planner(&calls), Provision: scripted(fail, &tried)}.Run(context.Background())
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if len(e.Attempts) != 3 {
		t.Errorf("%d attempts, want 3 (errors that name only a cloud block all of it)", len(e.Attempts))
	}
	msg := err.Error()
	for _, want := range []string{"INFRA", "RESOURCES", "REASON", "aws/us-east-1/us-east-1a", "p4d.24xlarge", "InsufficientInstanceCapacity", "gcp/us-central1", "GPUS_ALL_REGIONS", "azure/eastus", "no subscription", "no resources left"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestUntypedErrorStopsAtOnce(t *testing.T) {
	t.Parallel()
	var calls [][]cloud.Scope
	var tried []string
	boom := errors.New("the task's setup script is not executable")
	_, _, _, err := Loop{Plan: planner(&calls), Provision: scripted(map[string]error{"us-east-1a": boom}, &tried)}.Run(context.Background())
	if !errors.Is(err, boom) || len(tried) != 1 {
		t.Errorf("err %v after %v; want the untyped error after one try", err, tried)
	}
}

func TestRetryUntilUpStartsOverWithBackoff(t *testing.T) {
	t.Parallel()
	var calls [][]cloud.Scope
	var tried []string
	fail := map[string]error{
		"aws":   &cloud.CapacityError{Place: cloud.Place{Cloud: "aws"}},
		"gcp":   &cloud.CapacityError{Place: cloud.Place{Cloud: "gcp"}},
		"azure": &cloud.CapacityError{Place: cloud.Place{Cloud: "azure"}},
	}
	var waits []time.Duration
	prov := scripted(fail, &tried)
	rounds := 0
	loop := Loop{
		Plan: planner(&calls), RetryUntilUp: true,
		Provision: func(ctx context.Context, a Assignment) (*cloud.ClusterInfo, error) {
			if rounds == 2 && a.Offer.Cloud == "gcp" { // capacity appears in the third round
				return &cloud.ClusterInfo{Cloud: "gcp"}, nil
			}
			return prov(ctx, a)
		},
		Wait: func(_ context.Context, d time.Duration) error { waits = append(waits, d); rounds++; return nil },
	}
	info, _, _, err := loop.Run(context.Background())
	if err != nil || info.Cloud != "gcp" {
		t.Fatalf("got %v, %v; want gcp on the third round", info, err)
	}
	if len(waits) != 2 || waits[0] != 5*time.Second || waits[1] != 10*time.Second {
		t.Errorf("waits %v, want [5s 10s]", waits)
	}
	if got := backoff(20); got != 5*time.Minute {
		t.Errorf("backoff is not capped: %v", got)
	}
}

func TestRetryUntilUpStopsWithContext(t *testing.T) {
	t.Parallel()
	var calls [][]cloud.Scope
	var tried []string
	ctx, cancel := context.WithCancel(context.Background())
	capacity := &cloud.CapacityError{Place: cloud.Place{Cloud: "aws"}}
	loop := Loop{
		Plan: planner(&calls), RetryUntilUp: true,
		Provision: scripted(map[string]error{"aws": capacity, "gcp": capacity, "azure": capacity}, &tried),
		Wait:      func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() },
	}
	if _, _, _, err := loop.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// A provider whose error names another place (here: always aws/us-east-1a) still makes the loop move on: the
// error's level is applied to the place that failed.
func TestMisplacedErrorStillMakesProgress(t *testing.T) {
	t.Parallel()
	var calls [][]cloud.Scope
	var tried []string
	wrong := &cloud.QuotaError{Place: cloud.Place{Cloud: "aws", Region: "us-east-1"}}
	fail := map[string]error{"us-east-1": wrong, "us-west-2": wrong}
	info, _, _, err := Loop{Plan: planner(&calls), Provision: scripted(fail, &tried)}.Run(context.Background())
	if err != nil || info.Cloud != "gcp" {
		t.Fatalf("got %v, %v after %v; want gcp", info, err, tried)
	}
	if len(tried) != 3 {
		t.Errorf("tried %v: us-east-1 once (region blocked), us-west-2 once, then gcp", tried)
	}
}

// Run returns the whole assignment the cluster was provisioned for, as the planner made it, and hands that same
// assignment to the provisioner.
func TestRunReturnsTheAssignment(t *testing.T) {
	t.Parallel()
	want := Assignment{
		Offer:        offers[3],
		Candidate:    2,
		Requirements: cloud.Requirements{Accelerators: map[string]float64{"A100": 8}, NumNodes: 2},
		Demand:       Demand{CPUs: 0.5, Accelerators: map[string]float64{"A100": 8}},
	}
	var got Assignment
	plan := func([]cloud.Scope) (Assignment, error) { return want, nil }
	prov := func(_ context.Context, a Assignment) (*cloud.ClusterInfo, error) {
		got = a
		return &cloud.ClusterInfo{Cloud: a.Offer.Cloud}, nil
	}
	_, a, _, err := Loop{Plan: plan, Provision: prov}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, want) || !reflect.DeepEqual(got, want) {
		t.Errorf("Run returned %+v and provisioned %+v, want %+v", a, got, want)
	}
}
