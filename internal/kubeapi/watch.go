package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// WatchEvent is one event of a watch: Type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, Object the object
// as it now stands (the last state of a deleted one; a metav1.Status for ERROR).
type WatchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// Watch follows changes of a list (path with its query: "/api/v1/namespaces/ns/pods?labelSelector=..."),
// from resourceVersion on ("": its current state, each object first sent as ADDED). It returns once the API
// server has answered; the channel is closed when ctx ends or the stream ends (the server's watch timeout, or
// a broken connection), after which the caller may watch again from the last version it saw.
func (c *Client) Watch(ctx context.Context, path, resourceVersion string) (<-chan WatchEvent, error) {
	q := "watch=true&allowWatchBookmarks=true"
	if resourceVersion != "" {
		q += "&resourceVersion=" + resourceVersion
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := c.request(ctx, http.MethodGet, path+sep+q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("watch %s%s: %w", c.base.Host, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readStatus(resp, http.MethodGet, path)
	}
	out := make(chan WatchEvent, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var ev WatchEvent
			if dec.Decode(&ev) != nil {
				return
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
