package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/restapi"
)

// EndpointEnv overrides the API's base URL (its paths are under /api/v1): for tests, and for clouds that speak
// Lambda's API.
const EndpointEnv = "STIX_LAMBDA_ENDPOINT"

// DefaultEndpoint is Lambda Cloud's API.
const DefaultEndpoint = "https://cloud.lambdalabs.com"

// APIKeyEnv holds the API key; ~/.lambda_cloud/lambda_keys (`api_key = KEY`) is read when it is empty.
const APIKeyEnv = "LAMBDA_API_KEY"

// client calls Lambda Cloud's REST API with an API key.
type client struct{ *restapi.Client }

// apiKey returns the API key: $LAMBDA_API_KEY, else the api_key of ~/.lambda_cloud/lambda_keys, as SkyPilot
// and Lambda's tools read it.
func apiKey() (string, error) {
	if k := strings.TrimSpace(os.Getenv(APIKeyEnv)); k != "" {
		return k, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no home directory to read ~/.lambda_cloud/lambda_keys from", Err: err}
	}
	path := filepath.Join(home, ".lambda_cloud", "lambda_keys")
	data, err := os.ReadFile(path)
	if err == nil {
		if k := credcheck.ParseINI(string(data)).Get("", "api_key"); k != "" {
			return k, nil
		}
	}
	return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no API key: set " + APIKeyEnv +
		" or put `api_key = KEY` in ~/.lambda_cloud/lambda_keys (keys: https://cloud.lambdalabs.com/api-keys)"}
}

func newClient() (*client, error) {
	key, err := apiKey()
	if err != nil {
		return nil, err
	}
	return &client{restapi.New(restapi.Endpoint(EndpointEnv, DefaultEndpoint)+"/api/v1", key)}, nil
}

// apiError is Lambda's error answer: `{"error": {"code", "message", "suggestion"}}`.
type apiError struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion"`
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Suggestion != "" {
		s += " " + e.Suggestion
	}
	return s
}

// do calls method path with body (JSON when not nil) and decodes the answer's data into out.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	status, data, err := c.Call(ctx, method, path, body)
	if err != nil {
		return err
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *apiError       `json:"error"`
	}
	if jerr := json.Unmarshal(data, &env); jerr != nil || status >= 300 || env.Error != nil {
		if env.Error == nil {
			env.Error = &apiError{Code: http.StatusText(status), Message: restapi.Cut(strings.TrimSpace(string(data)))}
		}
		env.Error.Status = status
		return env.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Data, out)
}

// classify maps an API error to the failover errors of package cloud, saying what was being done (op) and
// where. Lambda has no zones; its quota is the account's, so it rules out the cloud.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var api *apiError
	if !errors.As(err, &api) {
		return restapi.Unanswered(Name, "Lambda's API", op, place, err)
	}
	reason := op + ": " + api.Error()
	switch {
	case api.Status == http.StatusUnauthorized || api.Status == http.StatusForbidden ||
		api.Code == "global/invalid-api-key" || api.Code == "global/account-inactive":
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason +
			" (check the key in $" + APIKeyEnv + " or ~/.lambda_cloud/lambda_keys: `stix check -v lambda`)"}
	case api.Code == "instance-operations/launch/insufficient-capacity":
		return &cloud.CapacityError{Place: cloud.Place{Cloud: Name, Region: place.Region}, Reason: reason}
	case api.Code == "global/quota-exceeded":
		return &cloud.QuotaError{Place: cloud.Place{Cloud: Name}, Reason: reason}
	case api.Code == "global/invalid-parameters" || api.Code == "global/object-does-not-exist":
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

// The API's objects, as far as stix reads them.

type regionRef struct {
	Name string `json:"name"`
}

type instance struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	IP           string    `json:"ip"`
	PrivateIP    string    `json:"private_ip"`
	Status       string    `json:"status"`
	SSHKeyNames  []string  `json:"ssh_key_names"`
	Region       regionRef `json:"region"`
	InstanceType struct {
		Name string `json:"name"`
	} `json:"instance_type"`
}

type instanceType struct {
	InstanceType struct {
		Name string `json:"name"`
	} `json:"instance_type"`
	Regions []regionRef `json:"regions_with_capacity_available"`
}

type sshKey struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

func (c *client) instances(ctx context.Context) ([]instance, error) {
	var out []instance
	err := c.do(ctx, http.MethodGet, "/instances", nil, &out)
	return out, err
}

func (c *client) instanceTypes(ctx context.Context) (map[string]instanceType, error) {
	var out map[string]instanceType
	err := c.do(ctx, http.MethodGet, "/instance-types", nil, &out)
	return out, err
}

func (c *client) sshKeys(ctx context.Context) ([]sshKey, error) {
	var out []sshKey
	err := c.do(ctx, http.MethodGet, "/ssh-keys", nil, &out)
	return out, err
}

func (c *client) addSSHKey(ctx context.Context, name, pub string) (sshKey, error) {
	var out sshKey
	err := c.do(ctx, http.MethodPost, "/ssh-keys", map[string]string{"name": name, "public_key": pub}, &out)
	return out, err
}

func (c *client) deleteSSHKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/ssh-keys/"+id, nil, nil)
}

func (c *client) launch(ctx context.Context, regionName, typeName, keyName, name string, quantity int) ([]string, error) {
	var out struct {
		IDs []string `json:"instance_ids"`
	}
	err := c.do(ctx, http.MethodPost, "/instance-operations/launch", map[string]any{"region_name": regionName,
		"instance_type_name": typeName, "ssh_key_names": []string{keyName}, "quantity": quantity, "name": name}, &out)
	return out.IDs, err
}

func (c *client) terminate(ctx context.Context, ids []string) error {
	return c.do(ctx, http.MethodPost, "/instance-operations/terminate", map[string]any{"instance_ids": ids}, nil)
}
