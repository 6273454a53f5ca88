package dockerapi

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// Image is what ImageInspect returns.
type Image struct {
	ID      string `json:"Id"`
	Comment string `json:"Comment"`
}

// ImageInspect describes an image, by reference or ID.
func (c *Client) ImageInspect(ctx context.Context, ref string) (Image, error) {
	var out Image
	err := c.call(ctx, http.MethodGet, "/images/"+pathEscape(ref)+"/json", nil, nil, &out)
	return out, err
}

// ImageImport makes the image ref from a root filesystem tar (`docker import - ref`), with a commit message and
// Dockerfile changes ("ENV ...", "CMD [...]"). It returns the engine's JSON progress stream, which reports errors
// too; the caller reads it to the end and closes it.
func (c *Client) ImageImport(ctx context.Context, rootfs io.Reader, ref, message string, changes []string) (io.ReadCloser, error) {
	q := url.Values{"fromSrc": {"-"}, "repo": {ref}}
	if message != "" {
		q.Set("message", message)
	}
	for _, ch := range changes {
		q.Add("changes", ch)
	}
	resp, err := c.do(ctx, http.MethodPost, "/images/create", q, rootfs)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ImageRemove removes an image; force removes it from stopped containers' use too.
func (c *Client) ImageRemove(ctx context.Context, ref string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, http.MethodDelete, "/images/"+pathEscape(ref), q, nil, nil)
}

// NetworkCreate creates a network with a driver (empty: the engine's default, bridge) and labels.
func (c *Client) NetworkCreate(ctx context.Context, name, driver string, labels map[string]string) error {
	body := struct {
		Name           string            `json:"Name"`
		Driver         string            `json:"Driver,omitempty"`
		Labels         map[string]string `json:"Labels,omitempty"`
		CheckDuplicate bool              `json:"CheckDuplicate"` // engines before API 1.44 allow two of a name without it
	}{name, driver, labels, true}
	return c.call(ctx, http.MethodPost, "/networks/create", nil, body, nil)
}

// NetworkInspect reports whether a network exists: nil when it does, an error IsNotFound accepts when not.
func (c *Client) NetworkInspect(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodGet, "/networks/"+pathEscape(name), nil, nil, nil)
}

// NetworkRemove removes a network.
func (c *Client) NetworkRemove(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/networks/"+pathEscape(name), nil, nil, nil)
}
