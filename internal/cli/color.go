package cli

// Style is a text style for terminal output. Styles are applied only when colour is enabled.
type Style int

// The styles stix uses. They follow SkyPilot's palette: green for healthy, yellow for in-between, red for failed,
// cyan for headings and hints.
const (
	Plain Style = iota
	Bold
	Dim
	Red
	Green
	Yellow
	Blue
	Cyan
)

var styleCodes = [...]string{
	Plain:  "",
	Bold:   "\x1b[1m",
	Dim:    "\x1b[2m",
	Red:    "\x1b[31m",
	Green:  "\x1b[32m",
	Yellow: "\x1b[33m",
	Blue:   "\x1b[34m",
	Cyan:   "\x1b[36m",
}

const styleReset = "\x1b[0m"

// Paint returns text in style st when s has colour enabled, and text unchanged otherwise.
func (s *IOStreams) Paint(st Style, text string) string {
	if !s.color || st <= Plain || int(st) >= len(styleCodes) || text == "" {
		return text
	}
	return styleCodes[st] + text + styleReset
}

// SetColorEnabled forces colour on or off, for tests and for a future --color flag.
func (s *IOStreams) SetColorEnabled(on bool) { s.color = on }

// ColorAllowed reports whether the environment read through getenv permits colour: NO_COLOR
// (https://no-color.org) turns it off, and so does TERM=dumb.
func ColorAllowed(getenv func(string) string) bool { return colorAllowed(getenv) }

// StateStyle is the style of a cluster, job, managed-job, service or replica state in tables.
func StateStyle(state string) Style {
	switch state {
	case "UP", "RUNNING", "SUCCEEDED", "READY":
		return Green
	case "INIT", "PENDING", "SETTING_UP", "STARTING", "RECOVERING", "PROVISIONING", "CONTROLLER_INIT",
		"REPLICA_INIT", "NOT_READY", "SHUTTING_DOWN", "CANCELLING":
		return Blue
	case "STOPPED", "CANCELLED", "NO_REPLICAS", "PREEMPTED":
		return Yellow
	case "FAILED", "FAILED_SETUP", "FAILED_DRIVER", "FAILED_PRECHECKS", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER",
		"FAILED_CLEANUP", "CONTROLLER_FAILED":
		return Red
	}
	return Plain
}
