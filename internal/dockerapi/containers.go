package dockerapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
)

// ContainerConfig is what ContainerCreate makes: the engine's create body, with the fields stix sets.
type ContainerConfig struct {
	Image        string              `json:"Image"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Hostname     string              `json:"Hostname,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"` // "8080/tcp"
	Env          []string            `json:"Env,omitempty"`          // "NAME=VALUE"
	HostConfig   HostConfig          `json:"HostConfig"`
	// Networks attaches the container to these networks (by name) at creation.
	Networks []string `json:"-"`
}

// HostConfig is the host side of a container.
type HostConfig struct {
	Init         *bool                    `json:"Init,omitempty"`
	NetworkMode  string                   `json:"NetworkMode,omitempty"`
	PortBindings map[string][]PortBinding `json:"PortBindings,omitempty"` // "8080/tcp" -> host ports
	// What `docker run` options set (ApplyRunOptions).
	Binds          []string          `json:"Binds,omitempty"` // "/host:/container[:ro]"
	ShmSize        int64             `json:"ShmSize,omitempty"`
	Privileged     bool              `json:"Privileged,omitempty"`
	CapAdd         []string          `json:"CapAdd,omitempty"`
	CapDrop        []string          `json:"CapDrop,omitempty"`
	SecurityOpt    []string          `json:"SecurityOpt,omitempty"`
	Devices        []DeviceMapping   `json:"Devices,omitempty"`
	DeviceRequests []DeviceRequest   `json:"DeviceRequests,omitempty"`
	Ulimits        []Ulimit          `json:"Ulimits,omitempty"`
	Runtime        string            `json:"Runtime,omitempty"`
	IpcMode        string            `json:"IpcMode,omitempty"`
	PidMode        string            `json:"PidMode,omitempty"`
	Tmpfs          map[string]string `json:"Tmpfs,omitempty"`
	ExtraHosts     []string          `json:"ExtraHosts,omitempty"`
}

// DeviceMapping is a host device made visible in the container (--device).
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// DeviceRequest asks a device driver for devices (--gpus): Count -1 is all of them.
type DeviceRequest struct {
	Driver       string     `json:"Driver,omitempty"`
	Count        int        `json:"Count,omitempty"`
	DeviceIDs    []string   `json:"DeviceIDs,omitempty"`
	Capabilities [][]string `json:"Capabilities"`
}

// Ulimit is a resource limit of the container's processes (--ulimit).
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// PortBinding publishes a container port on the host.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// Container is what ContainerInspect returns.
type Container struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State *struct {
		Status   string `json:"Status"`
		Running  bool   `json:"Running"`
		ExitCode int    `json:"ExitCode"`
	} `json:"State"`
	NetworkSettings *struct {
		Networks map[string]*struct {
			IPAddress string `json:"IPAddress"`
		} `json:"Networks"`
		// Ports are the published ports: "8080/tcp" -> where the engine's host listens for it.
		Ports map[string][]PortBinding `json:"Ports"`
	} `json:"NetworkSettings"`
}

// ContainerSummary is one entry of ContainerList.
type ContainerSummary struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"` // "/name"
	State  string            `json:"State"` // running, exited, created, ...
	Status string            `json:"Status"`
	Labels map[string]string `json:"Labels"`
}

// ContainerCreate creates a container named name (empty: the engine names it) and returns its ID.
func (c *Client) ContainerCreate(ctx context.Context, name string, cfg ContainerConfig) (string, error) {
	body := struct {
		ContainerConfig
		NetworkingConfig *networkingConfig `json:"NetworkingConfig,omitempty"`
	}{ContainerConfig: cfg}
	if len(cfg.Networks) > 0 {
		body.NetworkingConfig = &networkingConfig{EndpointsConfig: map[string]struct{}{}}
		for _, n := range cfg.Networks {
			body.NetworkingConfig.EndpointsConfig[n] = struct{}{}
		}
	}
	var q url.Values
	if name != "" {
		q = url.Values{"name": {name}}
	}
	var out struct {
		ID string `json:"Id"`
	}
	err := c.call(ctx, http.MethodPost, "/containers/create", q, body, &out)
	return out.ID, err
}

type networkingConfig struct {
	EndpointsConfig map[string]struct{} `json:"EndpointsConfig"`
}

// ContainerInspect describes a container, by ID or name.
func (c *Client) ContainerInspect(ctx context.Context, id string) (Container, error) {
	var out Container
	err := c.call(ctx, http.MethodGet, "/containers/"+pathEscape(id)+"/json", nil, nil, &out)
	return out, err
}

// ContainerList lists containers, stopped ones too when all is set, that carry every one of labels ("key=value"
// or "key").
func (c *Client) ContainerList(ctx context.Context, all bool, labels ...string) ([]ContainerSummary, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	if len(labels) > 0 {
		f := map[string]map[string]bool{"label": {}}
		for _, l := range labels {
			f["label"][l] = true
		}
		data, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		q.Set("filters", string(data))
	}
	var out []ContainerSummary
	err := c.call(ctx, http.MethodGet, "/containers/json", q, nil, &out)
	return out, err
}

// ContainerStart starts a container; one that runs already is not an error.
func (c *Client) ContainerStart(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+pathEscape(id)+"/start", nil, nil, nil)
}

// ContainerStop stops a container (SIGTERM, then SIGKILL after the container's stop timeout); one that is
// stopped already is not an error.
func (c *Client) ContainerStop(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+pathEscape(id)+"/stop", nil, nil, nil)
}

// ContainerRemove removes a container; force kills it first if it runs, volumes removes its anonymous volumes.
func (c *Client) ContainerRemove(ctx context.Context, id string, force, volumes bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	if volumes {
		q.Set("v", "1")
	}
	return c.call(ctx, http.MethodDelete, "/containers/"+pathEscape(id), q, nil, nil)
}

// ContainerWait waits until a container is not running and returns its exit status.
func (c *Client) ContainerWait(ctx context.Context, id string) (int, error) {
	var out struct {
		StatusCode int `json:"StatusCode"`
		Error      *struct {
			Message string `json:"Message"`
		} `json:"Error"`
	}
	q := url.Values{"condition": {"not-running"}}
	if err := c.call(ctx, http.MethodPost, "/containers/"+pathEscape(id)+"/wait", q, nil, &out); err != nil {
		return -1, err
	}
	if out.Error != nil && out.Error.Message != "" {
		return -1, &Error{StatusCode: http.StatusInternalServerError, Message: out.Error.Message}
	}
	return out.StatusCode, nil
}

// ContainerLogs returns a container's output so far, stdout and stderr multiplexed (see Demux).
func (c *Client) ContainerLogs(ctx context.Context, id string) (io.ReadCloser, error) {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
	resp, err := c.do(ctx, http.MethodGet, "/containers/"+pathEscape(id)+"/logs", q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// CopyToContainer extracts the tar stream content into the directory dir of a container, which must exist.
// Files take the container user's ownership; an existing directory is never replaced by a file or the reverse.
func (c *Client) CopyToContainer(ctx context.Context, id, dir string, content io.Reader) error {
	q := url.Values{"path": {dir}, "noOverwriteDirNonDir": {"true"}, "copyUIDGID": {"true"}}
	return c.call(ctx, http.MethodPut, "/containers/"+pathEscape(id)+"/archive", q, content, nil)
}

// CopyFromContainer returns a tar stream of the file or directory at path in a container, running or stopped
// (`docker cp` out). A path that does not exist is a not-found error (IsNotFound).
func (c *Client) CopyFromContainer(ctx context.Context, id, path string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, "/containers/"+pathEscape(id)+"/archive", url.Values{"path": {path}}, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ExecConfig is a command to run in a container.
type ExecConfig struct {
	Cmd          []string `json:"Cmd"`
	Env          []string `json:"Env,omitempty"`
	WorkingDir   string   `json:"WorkingDir,omitempty"`
	AttachStdin  bool     `json:"AttachStdin"`
	AttachStdout bool     `json:"AttachStdout"`
	AttachStderr bool     `json:"AttachStderr"`
}

// ExecCreate prepares a command in a running container and returns the exec's ID; ExecAttach starts it.
func (c *Client) ExecCreate(ctx context.Context, id string, cfg ExecConfig) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	err := c.call(ctx, http.MethodPost, "/containers/"+pathEscape(id)+"/exec", nil, cfg, &out)
	return out.ID, err
}

// ExecInspect reports whether an exec still runs and, when it has ended, its exit status.
func (c *Client) ExecInspect(ctx context.Context, execID string) (running bool, exitCode int, err error) {
	var out struct {
		Running  bool `json:"Running"`
		ExitCode int  `json:"ExitCode"`
	}
	err = c.call(ctx, http.MethodGet, "/exec/"+pathEscape(execID)+"/json", nil, nil, &out)
	return out.Running, out.ExitCode, err
}
