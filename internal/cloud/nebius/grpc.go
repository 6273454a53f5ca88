package nebius

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Nebius's API is gRPC only: stix calls it as a unary gRPC client on net/http (HTTP/2 over TLS, the request and
// answer each one length-prefixed message, the outcome in the grpc-status and grpc-message trailers), which
// costs no init, where google.golang.org/grpc would on every stix command.

// EndpointEnv sends every service's calls to one address (https://host:port), for tests; Nebius's services
// each have their own address under its API domain otherwise.
const EndpointEnv = "STIX_NEBIUS_ENDPOINT"

// DefaultDomain is Nebius's API domain: service S answers at S.api.nebius.cloud:443.
const DefaultDomain = "api.nebius.cloud"

// callTimeout bounds one call.
const callTimeout = 60 * time.Second

// maxAnswer bounds an answer's size.
const maxAnswer = 16 << 20

// The gRPC status codes stix tells apart.
const (
	codeOK                 = 0
	codeCanceled           = 1
	codeInvalidArgument    = 3
	codeDeadlineExceeded   = 4
	codeNotFound           = 5
	codeAlreadyExists      = 6
	codePermissionDenied   = 7
	codeResourceExhausted  = 8
	codeFailedPrecondition = 9
	codeAborted            = 10
	codeUnimplemented      = 12
	codeInternal           = 13
	codeUnavailable        = 14
	codeUnauthenticated    = 16
)

// codeNames are gRPC's status codes' names, by number (an array, not a map: nothing allocated at start-up).
var codeNames = [...]string{0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
	5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
	10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS",
	16: "UNAUTHENTICATED"}

// rpcError is a call's (or an operation's) failure: its gRPC status, with Nebius's ServiceError details.
type rpcError struct {
	Code    int
	Message string
	Details []serviceError
}

// serviceError is nebius.common.v1.ServiceError, as far as stix reads it.
type serviceError struct {
	Service, Code string
	Kind          string   // the detail set: quota_failure, not_enough_resources, resource_not_found, bad_request, ...
	Messages      []string // the violations' messages (and quotas' names)
}

func (e *rpcError) Error() string {
	name := "code " + strconv.Itoa(e.Code)
	if e.Code >= 0 && e.Code < len(codeNames) {
		name = codeNames[e.Code]
	}
	s := name
	if e.Message != "" {
		s += ": " + e.Message
	}
	var more []string
	for _, d := range e.Details {
		for _, m := range d.Messages {
			if _, said, _ := strings.Cut(m, ": "); !strings.Contains(e.Message, said) {
				more = append(more, m)
			}
		}
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, "; ") + ")"
	}
	return s
}

// has says whether a detail of the given kind came with the error.
func (e *rpcError) has(kind string) bool {
	for _, d := range e.Details {
		if d.Kind == kind {
			return true
		}
	}
	return false
}

// client calls Nebius's services with an IAM token.
type client struct {
	token    string
	override string // EndpointEnv's value
	domain   string
	http     *http.Client
	// retryWait is the first wait before a read is sent again (a second when zero).
	retryWait time.Duration
}

func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr}
}

// address is the base URL of a service ("compute", "vpc", "cpl.iam").
func (c *client) address(service string) string {
	if c.override != "" {
		return c.override
	}
	return "https://" + service + "." + c.domain + ":443"
}

// readTries is how many times a read (a Get or List method) is sent while Nebius answers UNAVAILABLE, waiting
// retryWait, then twice as long, in between. Calls that make or change something are sent once.
const readTries = 3

// call sends one unary call of method (e.g. "nebius.compute.v1.InstanceService/Get") to service with the
// encoded request and returns the encoded answer.
func (c *client) call(ctx context.Context, service, method string, req msg) ([]byte, error) {
	read := strings.HasSuffix(method, "/Get") || strings.HasSuffix(method, "/List")
	wait := c.retryWait
	if wait <= 0 {
		wait = time.Second
	}
	for try := 1; ; try++ {
		out, err := c.once(ctx, service, method, req)
		var e *rpcError
		if !read || try == readTries || !errors.As(err, &e) || e.Code != codeUnavailable {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// once sends one call.
func (c *client) once(ctx context.Context, service, method string, req msg) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	body := make([]byte, 5, 5+len(req))
	binary.BigEndian.PutUint32(body[1:], uint32(len(req)))
	body = append(body, req...)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.address(service)+"/"+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/grpc")
	r.Header.Set("Te", "trailers")
	r.Header.Set("Authorization", "Bearer "+c.token)
	r.Header.Set("Grpc-Timeout", strconv.Itoa(int(callTimeout/time.Second))+"S")
	r.Header.Set("User-Agent", "stix-nebius")
	resp, err := c.http.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &rpcError{Code: httpCode(resp.StatusCode), Message: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, c.address(service))}
	}
	get := func(k string) string {
		if v := resp.Trailer.Get(k); v != "" {
			return v
		}
		return resp.Header.Get(k) // a trailers-only answer
	}
	if e := statusOf(get("grpc-status"), get("grpc-message"), get("grpc-status-details-bin")); e != nil {
		return nil, e
	}
	if len(data) < 5 {
		return nil, fmt.Errorf("%s: an answer without a message", method)
	}
	if data[0] != 0 {
		return nil, fmt.Errorf("%s: a compressed answer (stix asks for none)", method)
	}
	n := binary.BigEndian.Uint32(data[1:5])
	if int(n) > len(data)-5 {
		return nil, fmt.Errorf("%s: a truncated answer", method)
	}
	return data[5 : 5+n], nil
}

// httpCode maps an HTTP status that is not gRPC's (a proxy's) to a gRPC code, as gRPC's clients do.
func httpCode(status int) int {
	switch status {
	case http.StatusBadRequest:
		return codeInternal
	case http.StatusUnauthorized:
		return codeUnauthenticated
	case http.StatusForbidden:
		return codePermissionDenied
	case http.StatusNotFound:
		return codeUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codeUnavailable
	}
	return 2
}

// statusOf reads the status trailers: nil for OK.
func statusOf(code, message, details string) error {
	if code == "" {
		return &rpcError{Code: codeInternal, Message: "the answer has no grpc-status"}
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return &rpcError{Code: codeInternal, Message: "grpc-status " + code}
	}
	if n == codeOK {
		return nil
	}
	if m, err := url.PathUnescape(message); err == nil {
		message = m
	}
	e := &rpcError{Code: n, Message: message}
	if details != "" {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(details, "="))
		if err == nil {
			if st, err := decodeStatus(raw); err == nil {
				e.Details = st.Details
			}
		}
	}
	return e
}

// decodeStatus reads a google.rpc.Status: code 1, message 2, details 3 (Any: type_url 1, value 2); the details
// that are Nebius ServiceErrors are kept.
func decodeStatus(b []byte) (*rpcError, error) {
	e := &rpcError{}
	err := walk(b, func(f field) error {
		switch f.num {
		case 1:
			e.Code = int(f.v)
		case 2:
			e.Message = f.str()
		case 3:
			var typeURL string
			var value []byte
			if err := walk(f.bytes, func(a field) error {
				switch a.num {
				case 1:
					typeURL = a.str()
				case 2:
					value = a.bytes
				}
				return nil
			}); err != nil {
				return err
			}
			if strings.HasSuffix(typeURL, "/nebius.common.v1.ServiceError") {
				se, err := decodeServiceError(value)
				if err != nil {
					return err
				}
				e.Details = append(e.Details, se)
			}
		}
		return nil
	})
	return e, err
}

// serviceErrorKind names the detail of a ServiceError in field number num ("" for none); a switch, not a map,
// so that nothing is allocated at start-up.
func serviceErrorKind(num int) string {
	switch num {
	case 100:
		return "bad_request"
	case 110:
		return "bad_resource_state"
	case 111:
		return "resource_not_found"
	case 112:
		return "resource_already_exists"
	case 113:
		return "out_of_range"
	case 120:
		return "permission_denied"
	case 130:
		return "resource_conflict"
	case 131:
		return "operation_aborted"
	case 140:
		return "too_many_requests"
	case 141:
		return "quota_failure"
	case 142:
		return "not_enough_resources"
	case 999:
		return "internal_error"
	}
	return ""
}

// decodeServiceError reads a nebius.common.v1.ServiceError: service 1, code 2, and one detail; of the details
// with violations (bad_request, quota_failure, not_enough_resources) each violation's message, and quota's name.
func decodeServiceError(b []byte) (serviceError, error) {
	var se serviceError
	err := walk(b, func(f field) error {
		switch {
		case f.num == 1:
			se.Service = f.str()
		case f.num == 2:
			se.Code = f.str()
		case serviceErrorKind(f.num) != "":
			se.Kind = serviceErrorKind(f.num)
			return walk(f.bytes, func(v field) error {
				if v.num != 1 || v.typ != wireBytes {
					if v.num == 2 && v.typ == wireBytes && se.Kind == "bad_resource_state" {
						se.Messages = append(se.Messages, v.str())
					}
					return nil
				}
				if se.Kind != "bad_request" && se.Kind != "quota_failure" && se.Kind != "not_enough_resources" {
					return nil
				}
				var first, message string
				if err := walk(v.bytes, func(x field) error {
					switch x.num {
					case 1:
						first = x.str()
					case 2:
						message = x.str()
					}
					return nil
				}); err != nil {
					return err
				}
				se.Messages = append(se.Messages, strings.TrimSpace(first+": "+message))
				return nil
			})
		}
		return nil
	})
	return se, err
}

// errNotFound says whether err is NOT_FOUND.
func errNotFound(err error) bool {
	var e *rpcError
	return errors.As(err, &e) && e.Code == codeNotFound
}

// endpointOverride is EndpointEnv's value without a trailing slash.
func endpointOverride() string { return strings.TrimRight(os.Getenv(EndpointEnv), "/") }
