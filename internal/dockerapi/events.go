package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Event is one container event of the engine's event stream.
type Event struct {
	// Action is what happened: "die", "destroy", "kill", "oom", "start", ...
	Action string
	// ID is the container's ID.
	ID string
	// Attributes are the container's labels, its name ("name") and, on "die", its "exitCode".
	Attributes map[string]string
	// Time is when the engine saw it.
	Time time.Time
}

// EventFilter selects the container events of Events.
type EventFilter struct {
	// Labels are "key=value" (or "key") labels the container carries, all of them.
	Labels []string
	// Actions are the events wanted ("die", "destroy"); all when empty.
	Actions []string
}

// Events follows the engine's container events that f selects, from now on. It returns once the engine has
// subscribed the stream (an event after that is not missed); the channel is closed when ctx ends or the stream
// breaks (the engine restarting), after which the caller may call again. Labels are matched here as well as by
// the engine, whose filters treat the same key given twice as either.
func (c *Client) Events(ctx context.Context, f EventFilter) (<-chan Event, error) {
	filters := map[string][]string{"type": {"container"}}
	if len(f.Labels) > 0 {
		filters["label"] = f.Labels
	}
	if len(f.Actions) > 0 {
		filters["event"] = f.Actions
	}
	data, err := json.Marshal(filters)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodGet, "/events", url.Values{"filters": {string(data)}}, nil)
	if err != nil {
		return nil, fmt.Errorf("docker events: %w", err)
	}
	out := make(chan Event, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var m struct {
				Type   string `json:"Type"`
				Action string `json:"Action"`
				Actor  struct {
					ID         string            `json:"ID"`
					Attributes map[string]string `json:"Attributes"`
				} `json:"Actor"`
				TimeNano int64 `json:"timeNano"`
			}
			if dec.Decode(&m) != nil {
				return // ctx ended, or the stream broke: the caller watches again or falls back
			}
			if m.Type != "container" || !hasLabels(m.Actor.Attributes, f.Labels) {
				continue
			}
			ev := Event{Action: m.Action, ID: m.Actor.ID, Attributes: m.Actor.Attributes, Time: time.Unix(0, m.TimeNano)}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// hasLabels reports whether attrs carry every one of labels ("key=value" or "key").
func hasLabels(attrs map[string]string, labels []string) bool {
	for _, l := range labels {
		k, v, withValue := strings.Cut(l, "=")
		got, ok := attrs[k]
		if !ok || withValue && got != v {
			return false
		}
	}
	return true
}
