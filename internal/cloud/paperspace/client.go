package paperspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/restapi"
)

// EndpointEnv overrides the API's base URL: for tests.
const EndpointEnv = "STIX_PAPERSPACE_ENDPOINT"

// DefaultEndpoint is Paperspace's public API, as SkyPilot calls it.
const DefaultEndpoint = "https://api.paperspace.com/v1"

// APIKeyEnv holds the API key; ~/.paperspace/config.json ({"apiKey": KEY}) is read when it is empty.
const APIKeyEnv = "PAPERSPACE_API_KEY"

var (
	errNotJSON = errors.New("not JSON")
	errNoKey   = errors.New("no apiKey")
)

// client calls Paperspace's API with an API key.
type client struct {
	*restapi.Client
	// retryWait is the first wait after an answer of HTTP 429 (rate limited); it doubles at each try.
	retryWait time.Duration
}

// apiKey returns the API key: $PAPERSPACE_API_KEY, else the apiKey of ~/.paperspace/config.json, as SkyPilot
// reads it.
func apiKey() (string, error) {
	if k := strings.TrimSpace(os.Getenv(APIKeyEnv)); k != "" {
		return k, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no home directory to read ~/.paperspace/config.json from", Err: err}
	}
	data, err := os.ReadFile(filepath.Join(home, ".paperspace", "config.json"))
	if err != nil {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no API key: " + keyFix}
	}
	k, err := keyOfConfig(string(data))
	if err != nil {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "~/.paperspace/config.json: " + err.Error() + ": " + keyFix}
	}
	return k, nil
}

func newClient() (*client, error) {
	key, err := apiKey()
	if err != nil {
		return nil, err
	}
	return &client{Client: restapi.New(restapi.Endpoint(EndpointEnv, DefaultEndpoint), key), retryWait: time.Second}, nil
}

// apiError is Paperspace's error answer: `{"code", "message"}` with the HTTP status.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// rateTries is how many times a call answered HTTP 429 (rate limited) is made.
const rateTries = 4

// do calls method path with body (JSON when not nil) and decodes the answer into out. A call Paperspace rate
// limits is made again after a wait, as SkyPilot does.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	wait := c.retryWait
	for try := 1; ; try++ {
		status, data, err := c.Call(ctx, method, path, body)
		if err != nil {
			return err
		}
		if status == http.StatusTooManyRequests && try < rateTries {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		if status < 200 || status >= 300 {
			e := &apiError{}
			if json.Unmarshal(data, e) != nil || (e.Code == "" && e.Message == "") {
				e = &apiError{Code: http.StatusText(status), Message: restapi.Cut(strings.TrimSpace(string(data)))}
			}
			e.Status = status
			return e
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(data, out)
	}
}

// classify maps an API error to the failover errors of package cloud, saying what was being done (op) and
// where. Paperspace sends a code and a message; capacity and quota are told by the message. Paperspace has no
// zones; its limits are the account's, so a quota rules out the cloud.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var api *apiError
	if !errors.As(err, &api) {
		return restapi.Unanswered(Name, "Paperspace's API", op, place, err)
	}
	reason := op + ": " + api.Error()
	msg := strings.ToLower(api.Message)
	switch {
	case api.Status == http.StatusUnauthorized || api.Code == "UNAUTHORIZED":
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason +
			" (check the key in $" + APIKeyEnv + " or ~/.paperspace/config.json: `stix check -v paperspace`)"}
	case strings.Contains(msg, "capacity") || strings.Contains(msg, "not available in"):
		return &cloud.CapacityError{Place: cloud.Place{Cloud: Name, Region: place.Region}, Reason: reason}
	case api.Status != http.StatusTooManyRequests && (strings.Contains(msg, "quota") || strings.Contains(msg, "limit")):
		return &cloud.QuotaError{Place: cloud.Place{Cloud: Name}, Reason: reason +
			" (ask Paperspace for a higher limit: https://console.paperspace.com)"}
	case api.Status == http.StatusForbidden:
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason}
	case api.Status == http.StatusBadRequest || api.Status == http.StatusNotFound || api.Status == http.StatusUnprocessableEntity:
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

// The API's objects, as far as stix reads them.

// machine is a Paperspace machine. State is provisioning, starting, restarting, upgrading, serviceready, ready,
// stopping or off.
type machine struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	State       string `json:"state"`
	MachineType string `json:"machineType"`
	Region      string `json:"region"`
	PublicIP    string `json:"publicIp"`
	PrivateIP   string `json:"privateIp"`
	NetworkID   string `json:"networkId"`
}

type network struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Region string `json:"region"`
}

type startupScript struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Script string `json:"script"`
}

// list reads every page of a list endpoint (`{"items", "hasMore", "nextPage"}`), with the query q.
func list[T any](ctx context.Context, c *client, path string, q url.Values) ([]T, error) {
	var all []T
	q = cloneValues(q)
	for {
		var page struct {
			Items    []T    `json:"items"`
			HasMore  bool   `json:"hasMore"`
			NextPage string `json:"nextPage"`
		}
		p := path
		if len(q) > 0 {
			p += "?" + q.Encode()
		}
		if err := c.do(ctx, http.MethodGet, p, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if !page.HasMore || page.NextPage == "" {
			return all, nil
		}
		q.Set("after", page.NextPage)
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func (c *client) machines(ctx context.Context) ([]machine, error) {
	return list[machine](ctx, c, "/machines", nil)
}

// createMachine is the body of POST /machines.
type createMachine struct {
	Name            string `json:"name"`
	MachineType     string `json:"machineType"`
	Region          string `json:"region"`
	DiskSize        int    `json:"diskSize"`
	TemplateID      string `json:"templateId"`
	NetworkID       string `json:"networkId"`
	PublicIPType    string `json:"publicIpType"`
	StartupScriptID string `json:"startupScriptId"`
	EnableNvlink    bool   `json:"enableNvlink"`
	StartOnCreate   bool   `json:"startOnCreate"`
}

func (c *client) createMachine(ctx context.Context, in createMachine) (machine, error) {
	var out struct {
		Data machine `json:"data"`
	}
	err := c.do(ctx, http.MethodPost, "/machines", in, &out)
	return out.Data, err
}

func (c *client) machineAction(ctx context.Context, id, action string) error {
	return c.do(ctx, http.MethodPatch, "/machines/"+url.PathEscape(id)+"/"+action, nil, nil)
}

func (c *client) deleteMachine(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/machines/"+url.PathEscape(id), nil, nil)
}

func (c *client) networks(ctx context.Context, name string) ([]network, error) {
	return list[network](ctx, c, "/private-networks", url.Values{"name": {name}})
}

func (c *client) createNetwork(ctx context.Context, name, region string) (network, error) {
	var out network
	err := c.do(ctx, http.MethodPost, "/private-networks", map[string]string{"name": name, "region": region}, &out)
	return out, err
}

func (c *client) deleteNetwork(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/private-networks/"+url.PathEscape(id), nil, nil)
}

func (c *client) startupScripts(ctx context.Context, name string) ([]startupScript, error) {
	return list[startupScript](ctx, c, "/startup-scripts", url.Values{"name": {name}})
}

func (c *client) createStartupScript(ctx context.Context, name, script string) (startupScript, error) {
	var out startupScript
	err := c.do(ctx, http.MethodPost, "/startup-scripts", map[string]any{"name": name, "script": script, "isRunOnce": true}, &out)
	return out, err
}

func (c *client) updateStartupScript(ctx context.Context, id, name, script string) error {
	return c.do(ctx, http.MethodPut, "/startup-scripts/"+url.PathEscape(id),
		map[string]any{"name": name, "script": script, "isRunOnce": true, "isEnabled": true}, nil)
}

func (c *client) deleteStartupScript(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/startup-scripts/"+url.PathEscape(id), nil, nil)
}
