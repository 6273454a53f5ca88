package taskflags

import (
	"fmt"
	"os"
	"strings"
)

// Entrypoint is the positional ENTRYPOINT of launch, exec, jobs launch and serve up: a task YAML file or an inline
// command. Both empty means no entrypoint was given (`stix launch -c mycluster` only provisions).
type Entrypoint struct {
	// YAMLPath is the task YAML file, as given on the command line. Empty for an inline command.
	YAMLPath string
	// Command is the inline command: the arguments joined with single spaces. Empty for a YAML file.
	Command string
}

// IsYAML reports whether the entrypoint is a task YAML file.
func (e Entrypoint) IsYAML() bool { return e.YAMLPath != "" }

// String is the entrypoint as the user gave it: the YAML path, or the inline command.
func (e Entrypoint) String() string {
	if e.IsYAML() {
		return e.YAMLPath
	}
	return e.Command
}

// IsEmpty reports whether no entrypoint was given.
func (e Entrypoint) IsEmpty() bool { return e.YAMLPath == "" && e.Command == "" }

// ParseEntrypoint decides, as SkyPilot does, what the entrypoint arguments are. A single argument ending in .yaml
// or .yml names a task YAML file, which must exist and be a regular file; any other arguments are joined with
// spaces into an inline command, run under bash on the cluster. The file is only checked, never read: parsing
// the YAML is internal/spec's job.
func ParseEntrypoint(args []string) (Entrypoint, error) {
	if len(args) == 0 {
		return Entrypoint{}, nil
	}
	if len(args) == 1 && looksLikeYAML(args[0]) {
		path := args[0]
		info, err := os.Stat(path)
		switch {
		case os.IsNotExist(err):
			return Entrypoint{}, fmt.Errorf("task YAML %s does not exist: check the path (to run it as a command instead, quote it with other words)", path)
		case err != nil:
			return Entrypoint{}, fmt.Errorf("task YAML %s: %w", path, err)
		case !info.Mode().IsRegular():
			return Entrypoint{}, fmt.Errorf("task YAML %s is not a regular file", path)
		}
		return Entrypoint{YAMLPath: path}, nil
	}
	return Entrypoint{Command: strings.Join(args, " ")}, nil
}

func looksLikeYAML(arg string) bool {
	arg = strings.TrimSpace(arg)
	return strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")
}
