package runpod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/restapi"
)

// EndpointEnv overrides the REST API's base URL (https://rest.runpod.io/v1): for tests, and for services that
// speak RunPod's API.
const EndpointEnv = "STIX_RUNPOD_ENDPOINT"

// DefaultEndpoint is RunPod's REST API, version 1.
const DefaultEndpoint = "https://rest.runpod.io/v1"

// APIKeyEnv holds the API key; ~/.runpod/config.toml is read when it is empty.
const APIKeyEnv = "RUNPOD_API_KEY"

// client calls RunPod's REST API with an API key.
type client struct{ *restapi.Client }

// apiKey returns the API key: $RUNPOD_API_KEY, else ~/.runpod/config.toml's (the [default] profile's api_key
// that `runpod config` writes, or the top-level apikey of `runpodctl config`), as SkyPilot reads it.
func apiKey() (string, error) {
	if k := strings.TrimSpace(os.Getenv(APIKeyEnv)); k != "" {
		return k, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		if data, err := os.ReadFile(filepath.Join(home, ".runpod", "config.toml")); err == nil {
			f := credcheck.ParseINI(string(data))
			for _, k := range []string{f.Get("default", "api_key"), f.Get("", "apikey"), f.Get("", "api_key")} {
				if k != "" {
					return k, nil
				}
			}
		}
	}
	return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no API key: set " + APIKeyEnv +
		" or run `runpod config` (keys: https://www.runpod.io/console/user/settings)"}
}

func newClient() (*client, error) {
	key, err := apiKey()
	if err != nil {
		return nil, err
	}
	return &client{restapi.New(restapi.Endpoint(EndpointEnv, DefaultEndpoint), key)}, nil
}

// apiError is RunPod's error answer: `{"error": "...", "status": N}`.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// do calls method path with body (JSON when not nil) and decodes the answer into out.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	status, data, err := c.Call(ctx, method, path, body)
	if err != nil {
		return err
	}
	if status >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &apiError{Status: status, Message: restapi.Cut(msg)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

// capacityPhrases are how RunPod says that no machine fits a pod now (it sends no error code).
var capacityPhrases = []string{"no longer any instances available", "not enough free gpus", "no instances available",
	"no available machines", "insufficient capacity"}

// classify maps an API error to the failover errors of package cloud, saying what was being done (op) and
// where (a data center is the zone, its country the region).
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var api *apiError
	if !errors.As(err, &api) {
		return restapi.Unanswered(Name, "RunPod's API", op, place, err)
	}
	reason := op + ": " + api.Error()
	lower := strings.ToLower(api.Message)
	switch {
	case api.Status == http.StatusUnauthorized || api.Status == http.StatusForbidden:
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason +
			" (check the key in $" + APIKeyEnv + " or ~/.runpod/config.toml: `stix check -v runpod`)"}
	case containsAny(lower, capacityPhrases):
		return &cloud.CapacityError{Place: place, Reason: reason}
	case strings.Contains(lower, "quota") || strings.Contains(lower, "balance"):
		return &cloud.QuotaError{Place: cloud.Place{Cloud: Name}, Reason: reason}
	case api.Status == http.StatusBadRequest:
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// pod is RunPod's Pod, as far as stix reads it.
type pod struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	DesiredStatus string         `json:"desiredStatus"`
	Interruptible bool           `json:"interruptible"`
	PublicIP      string         `json:"publicIp"`
	PortMappings  map[string]int `json:"portMappings"`
	Machine       struct {
		DataCenterID string `json:"dataCenterId"`
	} `json:"machine"`
}

// createPod is RunPod's PodCreateInput, as far as stix sets it.
type createPod struct {
	Name              string            `json:"name"`
	ImageName         string            `json:"imageName"`
	CloudType         string            `json:"cloudType,omitempty"`
	ComputeType       string            `json:"computeType"`
	GPUTypeIDs        []string          `json:"gpuTypeIds,omitempty"`
	GPUCount          int               `json:"gpuCount,omitempty"`
	CPUFlavorIDs      []string          `json:"cpuFlavorIds,omitempty"`
	VCPUCount         int               `json:"vcpuCount,omitempty"`
	DataCenterIDs     []string          `json:"dataCenterIds,omitempty"`
	Interruptible     bool              `json:"interruptible"`
	Ports             []string          `json:"ports"`
	Env               map[string]string `json:"env"`
	ContainerDiskInGb int               `json:"containerDiskInGb,omitempty"`
	SupportPublicIP   bool              `json:"supportPublicIp"`
	GlobalNetworking  bool              `json:"globalNetworking,omitempty"`
}

func (c *client) pods(ctx context.Context) ([]pod, error) {
	var out []pod
	err := c.do(ctx, http.MethodGet, "/pods", nil, &out)
	return out, err
}

func (c *client) pod(ctx context.Context, id string) (pod, error) {
	var out pod
	err := c.do(ctx, http.MethodGet, "/pods/"+url.PathEscape(id), nil, &out)
	return out, err
}

func (c *client) create(ctx context.Context, in createPod) (pod, error) {
	var out pod
	err := c.do(ctx, http.MethodPost, "/pods", in, &out)
	return out, err
}

func (c *client) delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/pods/"+url.PathEscape(id), nil, nil)
}
