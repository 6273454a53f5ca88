package azure

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/stix-run/stix/internal/cloud"
)

// armErr is the SDK's error for an ARM response with the documented error body.
func armErr(status int, code, msg string) error {
	body := `{"error":{"code":"` + code + `","message":"` + msg + `"}}`
	req, _ := http.NewRequest(http.MethodPut, "https://management.azure.com/subscriptions/s/resourceGroups/g", nil)
	return runtime.NewResponseError(&http.Response{StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))})
}

func TestClassify(t *testing.T) {
	zone := cloud.Place{Cloud: Name, Region: "eastus", Zone: "eastus-1"}
	for _, tc := range []struct {
		status     int
		code, msg  string
		want       any
		wantZone   string
		wantInText string
	}{
		{409, "SkuNotAvailable", "The requested VM size is currently not available in location 'eastus'.", &cloud.CapacityError{}, "eastus-1", "not available"},
		{200, "AllocationFailed", "Allocation failed.", &cloud.CapacityError{}, "eastus-1", "Allocation failed"},
		{409, "QuotaExceeded", "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.", &cloud.QuotaError{}, "", "quota"},
		{409, "OperationNotAllowed", "Operation results in exceeding quota limits of Core. Maximum allowed: 0", &cloud.QuotaError{}, "", "quota"},
		{403, "AuthorizationFailed", "The client does not have authorization to perform action.", &cloud.AuthError{}, "", "az account show"},
		{401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.", &cloud.AuthError{}, "", "expiry"},
		{404, "ImageNotFound", "The platform image 'a:b:c:d' is not available.", &cloud.InvalidConfigError{}, "eastus-1", "a:b:c:d"},
		{400, "InvalidParameter", "The value of parameter imageReference.sku is invalid.", &cloud.InvalidConfigError{}, "eastus-1", "sku"},
	} {
		err := classify("create virtual machine x", zone, armErr(tc.status, tc.code, tc.msg))
		var place cloud.Place
		switch e := err.(type) {
		case *cloud.CapacityError:
			place = e.Place
		case *cloud.QuotaError:
			place = e.Place
		case *cloud.AuthError:
			place = e.Place
		case *cloud.InvalidConfigError:
			place = e.Place
		}
		if errTypeName(err) != errTypeName(tc.want) {
			t.Errorf("%s: %T %v, want %T", tc.code, err, err, tc.want)
			continue
		}
		if place.Zone != tc.wantZone || !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), tc.wantInText) {
			t.Errorf("%s: %v (place %+v), want zone %q and the code and %q in the text", tc.code, err, place, tc.wantZone, tc.wantInText)
		}
	}
	if err := classify("x", zone, &authError{"invalid_client"}); !errors.As(err, new(*cloud.AuthError)) {
		t.Errorf("a rejected secret: %T %v", err, err)
	}
}

func errTypeName(v any) string {
	switch v.(type) {
	case *cloud.CapacityError:
		return "capacity"
	case *cloud.QuotaError:
		return "quota"
	case *cloud.AuthError:
		return "auth"
	case *cloud.InvalidConfigError:
		return "config"
	}
	return "other"
}

func TestDiskType(t *testing.T) {
	place := cloud.Place{Cloud: Name, Region: "eastus"}
	for _, tc := range []struct{ size, tier, want string }{
		{"Standard_D8s_v5", "", "Premium_LRS"},
		{"Standard_NC24ads_A100_v4", "medium", "Premium_LRS"},
		{"Standard_D8_v5", "medium", "StandardSSD_LRS"},
		{"Standard_A2_v2", "best", "StandardSSD_LRS"},
		{"Standard_D8s_v5", "low", "Standard_LRS"},
	} {
		if got, err := diskType(place, tc.size, tc.tier); err != nil || string(got) != tc.want {
			t.Errorf("diskType(%s, %q) = %s, %v; want %s", tc.size, tc.tier, got, err, tc.want)
		}
	}
	for _, tier := range []string{"high", "ultra"} {
		if _, err := diskType(place, "Standard_D8s_v5", tier); !errors.As(err, new(*cloud.InvalidConfigError)) {
			t.Errorf("disk_tier %s: %v, want an InvalidConfigError", tier, err)
		}
	}
}

func TestCheckImage(t *testing.T) {
	p := &Provider{}
	for _, ok := range []string{defaultImage, "skypilot:custom-gpu-ubuntu-v2",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/mine",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/def/versions/1.0.0"} {
		if err := p.CheckImage(ok); err != nil {
			t.Errorf("CheckImage(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{"ubuntu", "ami-0123", "Canonical:ubuntu", "projects/p/global/images/x"} {
		if err := p.CheckImage(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("CheckImage(%s): %v, want a refusal naming it", bad, err)
		}
	}
	if apiZone("eastus-2") != "2" || apiZone("3") != "3" || apiZone("") != "" {
		t.Error("apiZone")
	}
}
