package gcp

import (
	"errors"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

// TestClassify: Compute Engine's errors, from an HTTP answer or an operation, rule out what SkyPilot's failover
// rules out.
func TestClassify(t *testing.T) {
	t.Parallel()
	place := cloud.Place{Cloud: Name, Region: "us-central1", Zone: "us-central1-a"}
	for _, tc := range []struct {
		err    error
		level  cloud.Level
		region string
	}{
		{&apiError{Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Message: "The zone does not have enough resources"}, cloud.LevelZone, "us-central1"},
		{&apiError{Code: "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"}, cloud.LevelZone, "us-central1"},
		{&apiError{Code: "QUOTA_EXCEEDED", Message: "Quota 'CPUS' exceeded.  Limit: 8.0 in region us-central1."}, cloud.LevelRegion, "us-central1"},
		{&apiError{Status: 403, Code: "quotaExceeded", Message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally."}, cloud.LevelCloud, ""},
		{&apiError{Status: 401, Code: "authError"}, cloud.LevelCloud, ""},
		{&apiError{Status: 403, Code: "forbidden", Message: "Required 'compute.instances.insert' permission"}, cloud.LevelCloud, ""},
		{&apiError{Status: 404, Code: "notFound", Message: "The resource 'projects/x/global/images/y' was not found"}, cloud.LevelCloud, ""},
		{&apiError{Status: 400, Code: "invalid"}, cloud.LevelCloud, ""},
		{&unreachableError{errors.New("connection refused")}, cloud.LevelCloud, ""},
		{&apiError{Status: 500, Code: "backendError"}, cloud.LevelNone, ""},
	} {
		got := cloud.ScopeOf(classify("insert instance", place, tc.err))
		if got.Level != tc.level || got.Region != tc.region {
			t.Errorf("%v: scope %+v, want level %v region %q", tc.err, got, tc.level, tc.region)
		}
	}
}
