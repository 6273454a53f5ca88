package api

import (
	"encoding/json"
	"time"
)

// RequestStatus is the state of a request on the API server, as SkyPilot names its request states.
type RequestStatus string

// Request states. PENDING and RUNNING requests are in flight; the others are final.
const (
	RequestPending   RequestStatus = "PENDING"
	RequestRunning   RequestStatus = "RUNNING"
	RequestSucceeded RequestStatus = "SUCCEEDED"
	RequestFailed    RequestStatus = "FAILED"
	RequestCancelled RequestStatus = "CANCELLED"
)

// IsFinal reports whether a request in this state will never change again.
func (s RequestStatus) IsFinal() bool {
	return s == RequestSucceeded || s == RequestFailed || s == RequestCancelled
}

// Request is one request on the API server: a call that changes something (launch, exec, down, ...), run
// on the server whatever happens to the client. It is also `stix api status -o json`'s row.
type Request struct {
	ID       string        `json:"request_id"`
	Name     string        `json:"name"` // the call: launch, exec, cancel, stop, start, down, autostop, check, ssh_up, ssh_down
	User     string        `json:"user"`
	Created  time.Time     `json:"created_at"`
	Finished *time.Time    `json:"finished_at,omitempty"`
	Status   RequestStatus `json:"status"`
	// Cluster is the cluster the request acts on, when it names one.
	Cluster string `json:"cluster,omitempty"`
	// Result is the outcome's JSON (LaunchResult, Done, ...) once SUCCEEDED.
	Result json.RawMessage `json:"result,omitempty"`
	// Error says why the request FAILED or was CANCELLED.
	Error *Error `json:"error,omitempty"`
}

// Submitted is the answer to a call that starts a request (HTTP 202).
type Submitted struct {
	ID string `json:"request_id"`
}

// RequestFilter selects the requests `stix api status` lists.
type RequestFilter struct {
	// IDPrefixes keep the requests whose ID starts with one of them; none keeps all.
	IDPrefixes []string
	// All includes finished requests; otherwise only PENDING and RUNNING ones.
	All bool
	// AllUsers includes every user's requests; otherwise only the caller's.
	AllUsers bool
	// Limit keeps the latest N (the first N in Sort's order); 0 keeps all.
	Limit int
	// Status keeps the requests in that state (finished ones too, whatever All says); "" keeps any.
	Status RequestStatus
	// Search keeps the requests whose ID, name, user or cluster contains it, ignoring ASCII case.
	Search string
	// Sort orders the requests by one of RequestSortKeys, ascending unless Desc, ties by ID; "" is newest first.
	Sort string
	Desc bool
	// Offset skips that many requests of the order before Limit: with Limit, one page of the list.
	Offset int
}

// RequestSortKeys are the values of RequestFilter.Sort.
func RequestSortKeys() []string { return []string{"created", "name", "user", "status"} }

// HeaderTotal, on the answer to GET /api/v1/requests, is how many requests the filter keeps before Offset and
// Limit: the length of the whole list that one page is of.
const HeaderTotal = "X-Total-Count"

// StreamLine is one line of a request's event stream (NDJSON): an Event with its sequence number, or, last,
// the request as it ended (Done). Reading from ?offset=Seq+1 resumes after a dropped connection.
type StreamLine struct {
	Seq   int      `json:"seq"`
	Event *Event   `json:"event,omitempty"`
	Done  *Request `json:"done,omitempty"`
}

// LogLine is one line of a job's log stream (NDJSON): output, or, last, the job as it ended or stands (a managed
// job's tasks in Tasks), or the error that ended the stream. Offset is the byte offset of the output after this
// line: reading from ?offset=Offset resumes the output where it stopped.
type LogLine struct {
	Out    string `json:"out,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Job    *Job   `json:"job,omitempty"`
	// Tasks ends a managed job's stream: never nil there (an empty list is still sent), absent elsewhere.
	Tasks []ManagedJob `json:"tasks,omitzero"`
	Error *Error       `json:"error,omitempty"`
}

// Health is `GET /api/health`.
type Health struct {
	Status  string `json:"status"` // "healthy"
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// User is the user the server took the caller for.
	User string `json:"user"`
}

// HeaderUser names the client's user until the server authenticates users (the OS user of the CLI).
const HeaderUser = "X-Stix-User"
