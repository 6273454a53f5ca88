package embedded

import (
	"slices"
	"testing"

	"github.com/stix-run/stix/api"
)

func p(v float64) *float64 { return &v }

func TestCheapestRegionsAndSorting(t *testing.T) {
	t.Parallel()
	offers := []api.Offer{
		{Cloud: "aws", Count: 8, InstanceType: "p4d", Region: "us-west-2", HourlyPrice: p(40), HourlySpotPrice: p(9)},
		{Cloud: "aws", Count: 8, InstanceType: "p4d", Region: "us-east-1", HourlyPrice: p(32), HourlySpotPrice: p(5)},
		{Cloud: "aws", Count: 8, InstanceType: "p4d", Region: "ap-south-1", HourlyPrice: p(32)}, // no spot: loses the tie
		{Cloud: "aws", Count: 1, InstanceType: "p3", Region: "us-east-1", HourlyPrice: p(3)},
		{Cloud: "runpod", Count: 8, InstanceType: "8x", Region: "CA", HourlySpotPrice: p(1)}, // spot only
		{Cloud: "lambda", Count: 8, InstanceType: "gpu_8x", Region: "us-east-1", HourlyPrice: p(10)},
		{Cloud: "lambda", Count: 8, InstanceType: "gpu_8x", Region: "asia-1", HourlyPrice: p(10)},
	}
	got := cheapestRegions(offers)
	sortOffers(got)
	var keys []string
	for _, o := range got {
		keys = append(keys, o.Cloud+"/"+o.InstanceType+"/"+o.Region)
	}
	// AWS's cheapest offer ($3) beats Lambda's ($10); RunPod has no on-demand price, so it comes last.
	want := []string{"aws/p3/us-east-1", "aws/p4d/us-east-1", "lambda/gpu_8x/asia-1", "runpod/8x/CA"}
	if !slices.Equal(keys, want) {
		t.Errorf("got %v\nwant %v", keys, want)
	}
}
