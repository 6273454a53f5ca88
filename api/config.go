package api

import (
	"fmt"
	"os"
	"path/filepath"
)

// ProjectConfigNames are the project config files looked for in a directory, the first found applying:
// stix's own, then SkyPilot's.
var ProjectConfigNames = []string{".stix.yaml", ".sky.yaml"}

// Read returns the layers as content, read from this machine's disk: Dir's project file (when Project is not
// set already) and each of Args (a file's text, or its KEY=VALUE pairs) after Layers; Args and Dir are cleared.
// A --config value is a file when something other than a directory has that path, as SkyPilot decides.
func (l ConfigLayers) Read() (ConfigLayers, error) {
	out := ConfigLayers{Project: l.Project, Layers: append([]ConfigText(nil), l.Layers...)}
	if out.Project == nil && l.Dir != "" {
		for _, name := range ProjectConfigNames {
			p := filepath.Join(l.Dir, name)
			if !IsConfigFile(p) {
				continue
			}
			data, err := ReadConfigFile(p)
			if err != nil {
				return ConfigLayers{}, fmt.Errorf("read project config: %w", err)
			}
			out.Project = &ConfigText{File: p, Text: string(data)}
			break
		}
	}
	for _, v := range l.Args {
		if !IsConfigFile(v) {
			out.Layers = append(out.Layers, ConfigText{Text: v})
			continue
		}
		data, err := ReadConfigFile(v)
		if err != nil {
			return ConfigLayers{}, fmt.Errorf("read --config file: %w", err)
		}
		out.Layers = append(out.Layers, ConfigText{File: v, Text: string(data)})
	}
	return out, nil
}

// IsConfigFile tells whether p names something to read as a config file: anything but a directory (a link to a
// device is read, up to the size limit, and fails with a clear error rather than being taken for absent).
func IsConfigFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ReadConfigFile reads a config file with the task reader's size limit (MaxTaskBytes).
func ReadConfigFile(path string) ([]byte, error) {
	data, err := ReadFileLimited("config file", path)
	if tl, ok := err.(*TooLargeError); ok {
		tl.Hint = "a config file holds settings only; check the path"
	}
	return data, err
}
