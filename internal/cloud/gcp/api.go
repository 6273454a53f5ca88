package gcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/gcp/gcpauth"
)

// EndpointEnv overrides Compute Engine's endpoint, as gcloud reads it: the API root including the version,
// e.g. http://127.0.0.1:8080/compute/v1/ (tests, and Compute-compatible clouds).
const EndpointEnv = "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"

// defaultEndpoint is Compute Engine's v1 REST root.
const defaultEndpoint = "https://compute.googleapis.com/compute/v1/"

// api calls Compute Engine's REST/JSON API for one project, directly over net/http: Google's generated Go client
// would add megabytes and protobuf/OpenTelemetry inits to every stix command (docs/gcp.md).
type api struct {
	base    string // ends in "/"
	project string
	tokens  *gcpauth.TokenSource
	client  *http.Client
}

// apiError is an error answer of the API ({"error": {"code", "message", "errors": [{"reason", "message"}]}}) or
// an operation's error ({"errors": [{"code", "message"}]}): Status is the HTTP status (0 for an operation's),
// Code its reason or code (quotaExceeded, ZONE_RESOURCE_POOL_EXHAUSTED ...).
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	s := e.Code
	if e.Status != 0 {
		s = fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
	}
	return strings.TrimSpace(s + ": " + e.Message)
}

// errorBody is the JSON of an API error answer.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// operation is a zonal or global operation, as insert, stop, start, delete and firewall calls return it.
type operation struct {
	Name       string `json:"name"`
	Zone       string `json:"zone"`
	Status     string `json:"status"` // PENDING, RUNNING, DONE
	TargetLink string `json:"targetLink"`
	SelfLink   string `json:"selfLink"`
	Error      *struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// err is the operation's first error, nil when it has none.
func (op *operation) err() error {
	if op.Error == nil || len(op.Error.Errors) == 0 {
		return nil
	}
	var msgs []string
	for _, e := range op.Error.Errors {
		msgs = append(msgs, e.Message)
	}
	return &apiError{Code: op.Error.Errors[0].Code, Message: strings.Join(msgs, "; ")}
}

// do sends a request to the project's resource rel (zones/Z/instances ...) with body as JSON, and decodes the
// answer into out. query is added to the URL.
func (a *api) do(ctx context.Context, method, rel string, query url.Values, body, out any) error {
	u := a.base + "projects/" + url.PathEscape(a.project) + "/" + rel
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	token, err := a.tokens.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return &unreachableError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return &unreachableError{err}
	}
	if resp.StatusCode/100 != 2 {
		var eb errorBody
		e := &apiError{Status: resp.StatusCode, Message: fmt.Sprintf("%.300s", bytes.TrimSpace(data))}
		if json.Unmarshal(data, &eb) == nil && (eb.Error.Message != "" || eb.Error.Code != 0) {
			e.Message, e.Code = eb.Error.Message, eb.Error.Status
			if len(eb.Error.Errors) > 0 && eb.Error.Errors[0].Reason != "" {
				e.Code = eb.Error.Errors[0].Reason
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: malformed answer: %w", method, u, err)
	}
	return nil
}

// unreachableError is a request that got no answer from the endpoint.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string {
	return "the Compute Engine endpoint is unreachable: " + e.err.Error()
}
func (e *unreachableError) Unwrap() error { return e.err }

// operationPath is the path of an operation relative to the project: zones/Z/operations/N or
// global/operations/N.
func operationPath(op *operation) string {
	if op.Zone != "" {
		return "zones/" + path.Base(op.Zone) + "/operations/" + op.Name
	}
	return "global/operations/" + op.Name
}

// isNotFound says the API answered 404 (a resource that is gone already).
func isNotFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// classify maps a Compute Engine error to the failover errors of package cloud, as SkyPilot's GCP failover reads
// them: a zone out of resources rules out the zone; a regional quota the region, a global one (GPUS_ALL_REGIONS,
// "globally") the cloud; rejected credentials the cloud; an image or request GCE refuses is invalid
// configuration. Errors that are not the API's come back wrapped as they are.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var typed interface{ Scope() cloud.Scope }
	if errors.As(err, &typed) {
		return err // typed already (the token endpoint's AuthError)
	}
	var unreachable *unreachableError
	if errors.As(err, &unreachable) {
		return &cloud.CapacityError{Place: cloud.Place{Cloud: Name}, Reason: op, Err: err}
	}
	var e *apiError
	if !errors.As(err, &e) {
		return fmt.Errorf("%s in %s: %w", op, place, err)
	}
	reason := op + ": " + e.Error()
	switch {
	case strings.HasPrefix(e.Code, "ZONE_RESOURCE_POOL_EXHAUSTED"), e.Code == "UNSUPPORTED_OPERATION",
		e.Code == "resourceUnavailable", e.Code == "STOCKOUT":
		return &cloud.CapacityError{Place: place, Reason: reason}
	case e.Code == "QUOTA_EXCEEDED", e.Code == "quotaExceeded", e.Code == "QUOTA_LIMIT":
		q := place
		q.Zone = ""
		if strings.Contains(e.Message, "globally") || strings.Contains(e.Message, "ALL_REGIONS") {
			q.Region = "" // a project-wide quota: no region of GCP will do
		}
		return &cloud.QuotaError{Place: q, Reason: reason}
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name, Region: place.Region}, Reason: reason + authFix}
	case e.Status == http.StatusNotFound && strings.Contains(e.Message, "/images/"):
		return &cloud.InvalidConfigError{Place: place, Reason: reason +
			"; give an image_id that exists (projects/PROJECT/global/images/NAME or .../images/family/FAMILY)"}
	case e.Status == http.StatusBadRequest:
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

// authFix ends the message of a rejected credential.
const authFix = gcpauth.AuthFix
