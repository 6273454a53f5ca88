package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// REST is SkyPilot's RESTful admin policy: the request is POSTed to URL and the answer is the request to run.
//
// The wire format is SkyPilot's, so that a policy server written for SkyPilot works unchanged. The request body
// is a JSON string whose content is the JSON of the user request (SkyPilot encodes it twice):
//
//	{"task": "<task as YAML>", "skypilot_config": "<config as YAML>", "request_name": "launch",
//	 "request_options": {"cluster_name": ..., "idle_minutes_to_autostop": ..., "down": ..., "dryrun": ...},
//	 "at_client_side": false, "user": "<YAML of {id, name}, or empty>"}
//
// A 200 answer holds {"task": "<YAML>", "skypilot_config": "<YAML>"}, likewise as a JSON string (a plain
// object is accepted too). A 400 answer rejects the request; its body is the message the user sees.
type REST struct {
	URL string
	// Client makes the call; http.DefaultClient's transport when nil.
	Client *http.Client
	// Timeout bounds the whole call (DefaultTimeout when zero), as SkyPilot's 30 seconds.
	Timeout time.Duration
	// MaxAnswer bounds the answer's size in bytes (DefaultMaxAnswer when zero).
	MaxAnswer int64
}

// Defaults of REST.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxAnswer = 8 << 20
)

// NewREST returns the RESTful policy at url with the defaults.
func NewREST(url string) *REST { return &REST{URL: url} }

// Name is the URL.
func (p *REST) Name() string { return p.URL }

// userRequest is SkyPilot's encoded UserRequest, field for field and in its order.
type userRequest struct {
	Task           string   `json:"task"`
	SkyPilotConfig string   `json:"skypilot_config"`
	RequestName    string   `json:"request_name"`
	RequestOptions *Options `json:"request_options"`
	AtClientSide   bool     `json:"at_client_side"`
	User           string   `json:"user"`
}

// mutatedRequest is SkyPilot's encoded MutatedUserRequest.
type mutatedRequest struct {
	Task           *string `json:"task"`
	SkyPilotConfig *string `json:"skypilot_config"`
}

// Apply POSTs the request and reads the answer.
func (p *REST) Apply(ctx context.Context, r Request) (Result, error) {
	body, err := encodeRequest(r)
	if err != nil {
		return Result{}, fmt.Errorf("admin policy %s: %w", p.URL, err)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("admin policy %s: %w", p.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := p.Client
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Result{}, fmt.Errorf("admin policy %s did not answer within %s; the request was not run (is the policy server up?)", p.URL, timeout)
		}
		return Result{}, fmt.Errorf("admin policy %s cannot be reached; the request was not run: %w", p.URL, err)
	}
	defer resp.Body.Close()
	limit := p.MaxAnswer
	if limit <= 0 {
		limit = DefaultMaxAnswer
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Result{}, fmt.Errorf("admin policy %s did not finish its answer within %s; the request was not run", p.URL, timeout)
		}
		return Result{}, fmt.Errorf("admin policy %s: reading its answer: %w", p.URL, err)
	}
	if int64(len(answer)) > limit {
		return Result{}, fmt.Errorf("admin policy %s answered more than %d bytes; the request was not run", p.URL, limit)
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		return Result{}, &Rejected{Policy: p.URL, Message: message(answer)}
	case resp.StatusCode != http.StatusOK:
		return Result{}, fmt.Errorf("admin policy %s answered %s: %s; the request was not run", p.URL, resp.Status, excerpt(message(answer)))
	}
	res, err := decodeResult(answer)
	if err != nil {
		return Result{}, fmt.Errorf("admin policy %s answered something stix cannot read (%v); the request was not run. "+
			"The answer must be a JSON string holding {\"task\": YAML, \"skypilot_config\": YAML}, as SkyPilot's "+
			"MutatedUserRequest.encode() writes", p.URL, err)
	}
	return res, nil
}

func encodeRequest(r Request) ([]byte, error) {
	task, err := yaml.Marshal(r.Task)
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	cfg, err := yaml.Marshal(r.Config)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	user := ""
	if r.User != nil {
		b, err := yaml.Marshal(r.User)
		if err != nil {
			return nil, fmt.Errorf("encode user: %w", err)
		}
		user = string(b)
	}
	inner, err := json.Marshal(userRequest{Task: string(task), SkyPilotConfig: string(cfg), RequestName: r.Name,
		RequestOptions: r.Options, AtClientSide: r.AtClientSide, User: user})
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(inner))
}

// decodeResult reads a 200 answer: a JSON string holding the mutated request's JSON, or that JSON itself.
func decodeResult(answer []byte) (Result, error) {
	var inner string
	obj := answer
	if json.Unmarshal(answer, &inner) == nil {
		obj = []byte(inner)
	}
	var m mutatedRequest
	if err := json.Unmarshal(obj, &m); err != nil {
		return Result{}, fmt.Errorf("not JSON of a mutated request: %v", err)
	}
	if m.Task == nil || m.SkyPilotConfig == nil {
		return Result{}, errors.New(`"task" or "skypilot_config" is missing`)
	}
	if strings.TrimSpace(*m.Task) == "" {
		return Result{}, errors.New("task is empty")
	}
	return Result{Task: []byte(*m.Task), Config: []byte(*m.SkyPilotConfig)}, nil
}

// message is a rejection's text: a JSON string's content (what SkyPilot's example server sends), else the body.
func message(body []byte) string {
	var s string
	if json.Unmarshal(body, &s) == nil {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(string(body))
}

// excerpt keeps an unexpected answer's message short.
func excerpt(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	if s == "" {
		return "(no body)"
	}
	return s
}
