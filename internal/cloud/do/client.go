package do

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/restapi"
)

// EndpointEnv overrides the API's base URL (its paths are under /v2): for tests.
const EndpointEnv = "STIX_DO_ENDPOINT"

// DefaultEndpoint is DigitalOcean's API.
const DefaultEndpoint = "https://api.digitalocean.com"

// client calls DigitalOcean's REST API (v2) with an API token. DigitalOcean answers 429 when the account's rate
// limit is spent; such a call is retried after retryWait, then twice as long, up to rateTries times.
type client struct {
	*restapi.Client
	retryWait time.Duration
}

// rateTries is how many times a rate-limited call is sent.
const rateTries = 3

// token returns the API token: $DIGITALOCEAN_ACCESS_TOKEN, else the one in doctl's config.yaml (as SkyPilot
// and doctl read it).
func token() (string, error) {
	if t := strings.TrimSpace(os.Getenv(TokenEnv)); t != "" {
		return t, nil
	}
	home, _ := os.UserHomeDir()
	for _, path := range configPaths(home, os.Getenv("XDG_CONFIG_HOME")) {
		if data, err := os.ReadFile(path); err == nil {
			if t := configToken(string(data)); t != "" {
				return t, nil
			}
		}
	}
	return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no API token: " + tokenFix}
}

func newClient() (*client, error) {
	t, err := token()
	if err != nil {
		return nil, err
	}
	return &client{Client: restapi.New(restapi.Endpoint(EndpointEnv, DefaultEndpoint)+"/v2", t), retryWait: time.Second}, nil
}

// apiError is DigitalOcean's error answer: `{"id": "unprocessable_entity", "message": "...", "request_id"}`
// with the HTTP status.
type apiError struct {
	Status  int    `json:"-"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d)", e.ID, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// do calls method path with body (JSON when not nil) and decodes the answer into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	wait := c.retryWait
	for try := 1; ; try++ {
		status, data, err := c.Call(ctx, method, path, body)
		if err != nil {
			return err
		}
		if status < 300 {
			if out == nil || len(data) == 0 {
				return nil
			}
			return json.Unmarshal(data, out)
		}
		e := &apiError{}
		if json.Unmarshal(data, e) != nil || e.ID == "" {
			e = &apiError{ID: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Message: restapi.Cut(strings.TrimSpace(string(data)))}
		}
		e.Status = status
		if status != http.StatusTooManyRequests || try == rateTries {
			return e
		}
		select {
		case <-ctx.Done():
			return e
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// classify maps an API error to the failover errors of package cloud, saying what was being done (op) and
// where. DigitalOcean has no zones; the droplet limit is the account's, so it rules out the cloud. Its 422
// answers share one id (unprocessable_entity), so what they are about is read from the message: the API has no
// finer code. The launch checks sizes, the image and the limit through the API first (preflight), so this
// reading only serves what changed in between.
func classify(op string, place cloud.Place, err error) error {
	if err == nil {
		return nil
	}
	var api *apiError
	if !errors.As(err, &api) {
		return restapi.Unanswered(Name, "DigitalOcean's API", op, place, err)
	}
	reason := op + ": " + api.Error()
	msg := strings.ToLower(api.Message)
	unavailable := strings.Contains(msg, "not available") || strings.Contains(msg, "unavailable") || strings.Contains(msg, "capacity")
	switch {
	case api.Status == http.StatusUnauthorized || api.Status == http.StatusForbidden || api.ID == "unauthorized" || api.ID == "forbidden":
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: reason +
			" (check the token in $" + TokenEnv + " or doctl's config.yaml: `stix check -v do`)"}
	case api.Status == http.StatusTooManyRequests:
		return &cloud.CapacityError{Place: cloud.Place{Cloud: Name}, Reason: reason + " (DigitalOcean's API rate limit: try again in a minute)"}
	case strings.Contains(msg, "droplet limit"):
		return &cloud.QuotaError{Place: cloud.Place{Cloud: Name}, Reason: reason + " (ask DigitalOcean to raise the droplet limit, or `stix down` other clusters)"}
	case api.Status == http.StatusUnprocessableEntity && unavailable && (strings.Contains(msg, "size") || strings.Contains(msg, "region")):
		return &cloud.CapacityError{Place: cloud.Place{Cloud: Name, Region: place.Region}, Reason: reason}
	case api.Status == http.StatusUnprocessableEntity || api.Status == http.StatusBadRequest:
		return &cloud.InvalidConfigError{Place: place, Reason: reason}
	}
	return fmt.Errorf("%s in %s: %w", op, place, err)
}

// notFound says whether err is DigitalOcean's 404.
func notFound(err error) bool {
	var api *apiError
	return errors.As(err, &api) && api.Status == http.StatusNotFound
}

// The API's objects, as far as stix reads them.

type network struct {
	IP   string `json:"ip_address"`
	Type string `json:"type"` // public or private
}

type droplet struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"` // new, active, off, archive
	SizeSlug string `json:"size_slug"`
	Region   struct {
		Slug string `json:"slug"`
	} `json:"region"`
	Networks struct {
		V4 []network `json:"v4"`
	} `json:"networks"`
	Tags []string `json:"tags"`
}

// ip is the droplet's address of the given type ("public", "private"), "" when it has none yet.
func (d droplet) ip(kind string) string {
	for _, n := range d.Networks.V4 {
		if n.Type == kind {
			return n.IP
		}
	}
	return ""
}

type size struct {
	Slug      string   `json:"slug"`
	Disk      int      `json:"disk"` // GB
	Available bool     `json:"available"`
	Regions   []string `json:"regions"`
}

type account struct {
	DropletLimit int    `json:"droplet_limit"`
	Status       string `json:"status"`
	StatusMsg    string `json:"status_message"`
}

type sshKey struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PublicKey   string `json:"public_key"`
}

type firewall struct {
	ID   string   `json:"id"`
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// meta is a listing's count of all its items.
type meta struct {
	Total int `json:"total"`
}

func (c *client) account(ctx context.Context) (account, error) {
	var out struct {
		Account account `json:"account"`
	}
	err := c.do(ctx, http.MethodGet, "/account", nil, &out)
	return out.Account, err
}

// dropletCount is how many droplets the account has.
func (c *client) dropletCount(ctx context.Context) (int, error) {
	var out struct {
		Meta meta `json:"meta"`
	}
	err := c.do(ctx, http.MethodGet, "/droplets?per_page=1", nil, &out)
	return out.Meta.Total, err
}

// tagged lists the droplets carrying tag (one page of 200: a cluster has fewer nodes).
func (c *client) tagged(ctx context.Context, tag string) ([]droplet, error) {
	var out struct {
		Droplets []droplet `json:"droplets"`
	}
	err := c.do(ctx, http.MethodGet, "/droplets?per_page=200&tag_name="+url.QueryEscape(tag), nil, &out)
	return out.Droplets, err
}

func (c *client) sizes(ctx context.Context) ([]size, error) {
	var out struct {
		Sizes []size `json:"sizes"`
	}
	err := c.do(ctx, http.MethodGet, "/sizes?per_page=200", nil, &out)
	return out.Sizes, err
}

// image checks that the image (a slug or a numeric id) exists.
func (c *client) image(ctx context.Context, image string) error {
	return c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(image), nil, nil)
}

func (c *client) sshKeys(ctx context.Context) ([]sshKey, error) {
	var out struct {
		Keys []sshKey `json:"ssh_keys"`
	}
	err := c.do(ctx, http.MethodGet, "/account/keys?per_page=200", nil, &out)
	return out.Keys, err
}

func (c *client) addSSHKey(ctx context.Context, name, pub string) (sshKey, error) {
	var out struct {
		Key sshKey `json:"ssh_key"`
	}
	err := c.do(ctx, http.MethodPost, "/account/keys", map[string]string{"name": name, "public_key": pub}, &out)
	return out.Key, err
}

func (c *client) deleteSSHKey(ctx context.Context, id int) error {
	return c.do(ctx, http.MethodDelete, "/account/keys/"+strconv.Itoa(id), nil, nil)
}

// createRequest is POST /v2/droplets with `names`: up to 10 droplets of one shape; or with `name`, one droplet
// with its `volumes` attached.
type createRequest struct {
	Name    string   `json:"name,omitempty"`
	Names   []string `json:"names,omitempty"`
	Volumes []string `json:"volumes,omitempty"`
	Region  string   `json:"region"`
	Size    string   `json:"size"`
	Image   any      `json:"image"` // a slug, or a numeric id
	SSHKeys []int    `json:"ssh_keys"`
	Tags    []string `json:"tags"`
}

// maxPerCreate is how many droplets one create call may name.
const maxPerCreate = 10

func (c *client) create(ctx context.Context, req createRequest) ([]droplet, error) {
	var out struct {
		Droplets []droplet `json:"droplets"`
	}
	err := c.do(ctx, http.MethodPost, "/droplets", req, &out)
	return out.Droplets, err
}

// action posts a droplet action (power_on, power_off, shutdown).
func (c *client) action(ctx context.Context, id int, kind string) error {
	return c.do(ctx, http.MethodPost, "/droplets/"+strconv.Itoa(id)+"/actions", map[string]string{"type": kind}, nil)
}

func (c *client) deleteTagged(ctx context.Context, tag string) error {
	return c.do(ctx, http.MethodDelete, "/droplets?tag_name="+url.QueryEscape(tag), nil, nil)
}

func (c *client) firewalls(ctx context.Context) ([]firewall, error) {
	var out struct {
		Firewalls []firewall `json:"firewalls"`
	}
	err := c.do(ctx, http.MethodGet, "/firewalls?per_page=200", nil, &out)
	return out.Firewalls, err
}

func (c *client) createFirewall(ctx context.Context, body any) (firewall, error) {
	var out struct {
		Firewall firewall `json:"firewall"`
	}
	err := c.do(ctx, http.MethodPost, "/firewalls", body, &out)
	return out.Firewall, err
}

func (c *client) deleteFirewall(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/firewalls/"+url.PathEscape(id), nil, nil)
}
