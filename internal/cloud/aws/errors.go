package aws

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stix-run/stix/internal/cloud"
)

// EC2 error codes, grouped by what they rule out for the failover loop (as SkyPilot's AWS failover reads them).
var (
	// zoneCodes: the zone has no capacity for the request now; another zone may.
	zoneCodes = []string{"InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientCapacity",
		"Unsupported", "InsufficientReservedInstanceCapacity", "SpotMaxPriceTooLow"}
	// regionCodes: the account's quota in the region does not allow it.
	regionCodes = []string{"VcpuLimitExceeded", "MaxSpotInstanceCountExceeded", "InstanceLimitExceeded",
		"InsufficientFreeAddressesInSubnet", "AddressLimitExceeded"}
	// cloudCodes: the credentials are rejected, expired or lack a permission.
	cloudCodes = []string{"AuthFailure", "UnauthorizedOperation", "ExpiredToken", "RequestExpired",
		"InvalidClientTokenId", "SignatureDoesNotMatch", "OptInRequired", "Blocked", "AccessDenied", "ExpiredTokenException"}
)

// classify maps an EC2 API error to the failover errors of package cloud, saying what was being done (op) and
// where; errors that are not EC2's come back wrapped as they are.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	var send *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &send):
		// The region's endpoint cannot be reached (no route, DNS, refused): another region's may be.
		region := place
		region.Zone = ""
		return &cloud.CapacityError{Place: region, Reason: op + ": the EC2 endpoint of the region is unreachable", Err: err}
	case !errors.As(err, &api):
		return fmt.Errorf("%s in %s: %w", op, place, err)
	}
	code := api.ErrorCode()
	reason := op + ": " + code
	if msg := api.ErrorMessage(); msg != "" {
		reason += ": " + msg
	}
	is := func(codes []string) bool {
		for _, c := range codes {
			if code == c {
				return true
			}
		}
		return false
	}
	switch {
	case is(zoneCodes):
		return &cloud.CapacityError{Place: place, Reason: reason}
	case is(regionCodes):
		return &cloud.QuotaError{Place: place, Reason: reason}
	case is(cloudCodes):
		return &cloud.AuthError{Place: place, Reason: reason + authFix}
	case strings.HasPrefix(code, "InvalidAMIID"):
		return &cloud.InvalidConfigError{Place: place, Reason: reason +
			"; give an image_id that exists in region " + place.Region + " (an AMI is regional)"}
	case strings.HasPrefix(code, "InvalidKeyPair"), strings.HasPrefix(code, "InvalidParameter"),
		strings.HasPrefix(code, "InvalidVpc"), strings.HasPrefix(code, "InvalidSubnet"):
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

// authFix ends the message of a rejected credential.
const authFix = " (check the credentials with `aws sts get-caller-identity`; " + awsFix + ")"
