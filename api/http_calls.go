package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
)

// The calls of Client over HTTP: the routes are documented in api/openapi.yaml.

// clientTask is task as it travels to a server, which cannot read this machine's disk: with this process's
// working directory as its Dir, so that the server resolves the task's relative paths as the user meant them,
// and its config layers as content (ConfigLayers.Read).
func clientTask(t TaskSpec) (TaskSpec, error) {
	if t.Dir == "" {
		t.Dir, _ = os.Getwd()
	}
	if t.Config != nil {
		l, err := t.Config.Read()
		if err != nil {
			return TaskSpec{}, err
		}
		t.Config = &l
	}
	return t, nil
}

func (c *HTTPClient) Validate(ctx context.Context, task TaskSpec) (*TaskCheck, error) {
	task, err := clientTask(task)
	if err != nil {
		return nil, err
	}
	var out TaskCheck
	return &out, c.call(ctx, http.MethodPost, "/api/v1/validate", nil, task, &out)
}

func (c *HTTPClient) Plan(ctx context.Context, task TaskSpec) (*Plan, error) {
	task, err := clientTask(task)
	if err != nil {
		return nil, err
	}
	var out Plan
	return &out, c.call(ctx, http.MethodPost, "/api/v1/plan", nil, task, &out)
}

func (c *HTTPClient) Launch(ctx context.Context, req LaunchRequest) (*Operation[LaunchResult], error) {
	var err error
	if req.Task, err = clientTask(req.Task); err != nil {
		return nil, err
	}
	return submit[LaunchResult](ctx, c, "/api/v1/launch", req)
}

func (c *HTTPClient) Exec(ctx context.Context, req ExecRequest) (*Operation[LaunchResult], error) {
	var err error
	if req.Task, err = clientTask(req.Task); err != nil {
		return nil, err
	}
	return submit[LaunchResult](ctx, c, "/api/v1/exec", req)
}

func (c *HTTPClient) Status(ctx context.Context, names []string, refresh bool) ([]Cluster, error) {
	q := url.Values{"name": names}
	if refresh {
		q.Set("refresh", "true")
	}
	if AllUsers(ctx) {
		q.Set("all_users", "true")
	}
	var out []Cluster
	return out, c.call(ctx, http.MethodGet, "/api/v1/clusters", q, nil, &out)
}

func (c *HTTPClient) Match(ctx context.Context, patterns []string, all bool) ([]string, error) {
	q := url.Values{"pattern": patterns}
	if all {
		q.Set("all", "true")
	}
	if AllUsers(ctx) {
		q.Set("all_users", "true")
	}
	var out []string
	return out, c.call(ctx, http.MethodGet, "/api/v1/clusters/match", q, nil, &out)
}

func jobsPath(cluster string) string { return "/api/v1/clusters/" + url.PathEscape(cluster) + "/jobs" }

func (c *HTTPClient) Queue(ctx context.Context, cluster string, skipFinished bool) ([]Job, error) {
	q := url.Values{}
	if skipFinished {
		q.Set("skip_finished", "true")
	}
	var out []Job
	return out, c.call(ctx, http.MethodGet, jobsPath(cluster), q, nil, &out)
}

func (c *HTTPClient) Job(ctx context.Context, cluster string, id int) (Job, error) {
	var out Job
	return out, c.call(ctx, http.MethodGet, jobsPath(cluster)+"/"+strconv.Itoa(id), nil, nil, &out)
}

func (c *HTTPClient) Endpoints(ctx context.Context, cluster string, port int) (map[int]string, error) {
	q := url.Values{}
	if port != 0 {
		q.Set("port", strconv.Itoa(port))
	}
	var out map[int]string
	return out, c.call(ctx, http.MethodGet, "/api/v1/clusters/"+url.PathEscape(cluster)+"/endpoints", q, nil, &out)
}

func (c *HTTPClient) Nodes(ctx context.Context, cluster string) ([]ClusterNode, error) {
	var out []ClusterNode
	return out, c.call(ctx, http.MethodGet, "/api/v1/clusters/"+url.PathEscape(cluster)+"/nodes", nil, nil, &out)
}

// Logs copies the job's streamed output into w, resuming at the byte it stopped at after a dropped
// connection.
func (c *HTTPClient) Logs(ctx context.Context, cluster string, id int, opts LogsOptions, w io.Writer) (Job, error) {
	q := url.Values{"follow": {strconv.FormatBool(opts.Follow)}}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	end, err := c.followLog(ctx, jobsPath(cluster)+"/"+strconv.Itoa(id)+"/logs", q, w)
	if err != nil || end.Job == nil {
		return Job{}, err
	}
	return *end.Job, nil
}

// followLog copies a log stream's output (routes that send LogLines) into w and returns its last line,
// resuming at the byte it stopped at after a dropped connection (at most reconnects times).
func (c *HTTPClient) followLog(ctx context.Context, path string, q url.Values, w io.Writer) (LogLine, error) {
	var offset int64
	for failures := 0; ; failures++ {
		q.Set("offset", strconv.FormatInt(offset, 10))
		end, done, err := c.logStream(ctx, path, q, w, &offset)
		if done || ctx.Err() != nil || failures >= reconnects {
			return end, err
		}
	}
}

// logStream reads one stream of a log's output; done is false when the stream broke before its last line.
func (c *HTTPClient) logStream(ctx context.Context, path string, q url.Values, w io.Writer, offset *int64) (LogLine, bool, error) {
	resp, err := c.send(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		_, isAnswer := err.(answered)
		return LogLine{}, isAnswer, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 2*MaxTaskBytes)
	for sc.Scan() {
		var l LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return LogLine{}, true, fmt.Errorf("logs: bad stream line: %w", err)
		}
		switch {
		case l.Error != nil:
			return LogLine{}, true, l.Error.Err()
		case l.Job != nil || l.Tasks != nil:
			return l, true, nil
		}
		if _, err := io.WriteString(w, l.Out); err != nil {
			return LogLine{}, true, err
		}
		*offset = l.Offset
	}
	if err := sc.Err(); err != nil {
		return LogLine{}, false, err
	}
	return LogLine{}, false, io.ErrUnexpectedEOF
}

func (c *HTTPClient) Cancel(ctx context.Context, cluster string, ids []int, all bool) (*Operation[[]CancelOutcome], error) {
	return submit[[]CancelOutcome](ctx, c, "/api/v1/cancel", struct {
		Cluster string `json:"cluster"`
		JobIDs  []int  `json:"job_ids,omitempty"`
		All     bool   `json:"all,omitempty"`
	}{cluster, ids, all})
}

type clusterArg struct {
	Cluster string `json:"cluster"`
}

func (c *HTTPClient) Stop(ctx context.Context, cluster string) (*Operation[Done], error) {
	return submit[Done](ctx, c, "/api/v1/stop", clusterArg{cluster})
}

func (c *HTTPClient) Start(ctx context.Context, cluster string) (*Operation[Done], error) {
	return submit[Done](ctx, c, "/api/v1/start", clusterArg{cluster})
}

func (c *HTTPClient) Down(ctx context.Context, cluster string, purge bool) (*Operation[Done], error) {
	return submit[Done](ctx, c, "/api/v1/down", struct {
		Cluster string `json:"cluster"`
		Purge   bool   `json:"purge,omitempty"`
	}{cluster, purge})
}

func (c *HTTPClient) Autostop(ctx context.Context, cluster string, opts AutostopOptions) (*Operation[Done], error) {
	return submit[Done](ctx, c, "/api/v1/autostop", struct {
		Cluster string          `json:"cluster"`
		Options AutostopOptions `json:"options"`
	}{cluster, opts})
}

func (c *HTTPClient) CostReport(ctx context.Context) ([]CostReportEntry, error) {
	var out []CostReportEntry
	return out, c.call(ctx, http.MethodGet, "/api/v1/cost-report", nil, nil, &out)
}

func (c *HTTPClient) Check(ctx context.Context, infra []string, verify bool) (*Operation[CheckResult], error) {
	return submit[CheckResult](ctx, c, "/api/v1/check", struct {
		Infra  []string `json:"infra,omitempty"`
		Verify bool     `json:"verify,omitempty"`
	}{infra, verify})
}

func (c *HTTPClient) Accelerators(ctx context.Context, q GPUQuery) ([]AcceleratorCounts, error) {
	var out []AcceleratorCounts
	return out, c.call(ctx, http.MethodPost, "/api/v1/gpus/accelerators", nil, q, &out)
}

func (c *HTTPClient) Offers(ctx context.Context, q GPUQuery) ([]Offer, error) {
	var out []Offer
	return out, c.call(ctx, http.MethodPost, "/api/v1/gpus/offers", nil, q, &out)
}

func (c *HTTPClient) SSHUp(ctx context.Context, req SSHPoolRequest) (*Operation[[]SSHHostResult], error) {
	return submit[[]SSHHostResult](ctx, c, "/api/v1/ssh/up", req)
}

func (c *HTTPClient) SSHDown(ctx context.Context, req SSHPoolRequest) (*Operation[[]SSHHostResult], error) {
	return submit[[]SSHHostResult](ctx, c, "/api/v1/ssh/down", req)
}

// WatchCluster follows the server's stream of a cluster's node events (NDJSON, one ClusterEvent a line), which
// the server answers once the provider's watch is established.
func (c *HTTPClient) WatchCluster(ctx context.Context, cluster string) (<-chan ClusterEvent, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/clusters/"+url.PathEscape(cluster)+"/events", nil, nil)
	if err != nil {
		return nil, err
	}
	out := make(chan ClusterEvent, 8)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var ev ClusterEvent
			if dec.Decode(&ev) != nil {
				return // ctx ended or the stream broke: the watch is over
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
