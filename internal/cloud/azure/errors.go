package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/stix-run/stix/internal/cloud"
)

// ARM error codes, grouped by what they rule out for the failover loop (as SkyPilot's Azure failover reads them).
var (
	// capacityCodes: no capacity for the size in the zone (or the region, for a regional request) now.
	capacityCodes = []string{"SkuNotAvailable", "AllocationFailed", "ZonalAllocationFailed",
		"OverconstrainedAllocationRequest", "OverconstrainedZonalAllocationRequest", "SpotEvictionPolicyNotSupported"}
	// quotaCodes: the subscription's quota in the region does not allow it.
	quotaCodes = []string{"QuotaExceeded", "OperationNotAllowed", "PublicIPCountLimitReached",
		"InsufficientCoreQuota", "SubscriptionRequestsThrottled"}
	// authCodes: the credentials are rejected, expired or lack a permission.
	authCodes = []string{"AuthorizationFailed", "InvalidAuthenticationToken", "InvalidAuthenticationTokenTenant",
		"ExpiredAuthenticationToken", "AuthenticationFailed", "LinkedAuthorizationFailed", "SubscriptionNotFound",
		"InvalidSubscriptionId", "ReadOnlyDisabledSubscription", "DisallowedOperation"}
	// configCodes: the request itself is wrong (an image that does not exist, a bad parameter).
	configCodes = []string{"ImageNotFound", "InvalidParameter", "PlatformImageNotFound", "InvalidTemplate",
		"GalleryImageNotFound", "NotFound", "VMMarketplaceInvalidInput", "BadRequest"}
)

// authFix ends the message of a rejected credential.
const authFix = " (check the login with `az account show`, or the service principal in AZURE_CLIENT_ID, " +
	"AZURE_TENANT_ID and AZURE_CLIENT_SECRET; then run `stix check -v azure`)"

// classify maps an Azure SDK error to the failover errors of package cloud, saying what was being done (op) and
// where; other errors come back wrapped as they are.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	var ae *authError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: op + ": " + firstLine(err.Error()) + authFix}
	case errors.As(err, &re):
	case errors.As(err, &ne):
		region := place
		region.Zone = ""
		return &cloud.CapacityError{Place: region, Reason: op + ": Azure Resource Manager is unreachable", Err: err}
	default:
		return fmt.Errorf("%s in %s: %w", op, place, err)
	}
	code := re.ErrorCode
	reason := op + ": " + code
	if msg := message(re); msg != "" {
		reason += ": " + msg
	}
	in := func(codes []string) bool {
		for _, c := range codes {
			if strings.EqualFold(code, c) {
				return true
			}
		}
		return false
	}
	switch {
	case in(capacityCodes):
		return &cloud.CapacityError{Place: place, Reason: reason}
	case in(quotaCodes) && (code != "OperationNotAllowed" || strings.Contains(strings.ToLower(reason), "quota")):
		place.Zone = ""
		return &cloud.QuotaError{Place: place, Reason: reason}
	case in(authCodes) || re.StatusCode == 401 || re.StatusCode == 403:
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason + authFix}
	case in(configCodes) || strings.HasPrefix(code, "Invalid"):
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

// message is the ARM error's message: the SDK's error text ends with the response body, ARM's
// {"error": {"code", "message"}} (an operation's status carries the same "error").
func message(re *azcore.ResponseError) string {
	text := re.Error()
	i, j := strings.Index(text, "{"), strings.LastIndex(text, "}")
	if i < 0 || j < i {
		return ""
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(text[i:j+1]), &body) != nil {
		return ""
	}
	return firstLine(body.Error.Message)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// isNotFound says whether err is Resource Manager's 404 (a resource or group that is gone).
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 404
}
