package dockerapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// runOption is one `docker run` option that ApplyRunOptions understands: its long name, its one-letter name
// (if any), whether it takes a value, and how it changes the create body.
type runOption struct {
	long, short string
	flag        bool // takes no value
	apply       func(cfg *ContainerConfig, v string) error
}

var runOptions = []runOption{
	{long: "volume", short: "v", apply: func(c *ContainerConfig, v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("want HOST_PATH:CONTAINER_PATH[:OPTIONS], got %q (anonymous volumes are not supported)", v)
		}
		c.HostConfig.Binds = append(c.HostConfig.Binds, v)
		return nil
	}},
	{long: "env", short: "e", apply: func(c *ContainerConfig, v string) error {
		if k, _, _ := strings.Cut(v, "="); k == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", v)
		}
		c.Env = append(c.Env, v)
		return nil
	}},
	{long: "shm-size", apply: func(c *ContainerConfig, v string) error {
		n, err := ramInBytes(v)
		c.HostConfig.ShmSize = n
		return err
	}},
	{long: "privileged", flag: true, apply: func(c *ContainerConfig, _ string) error {
		c.HostConfig.Privileged = true
		return nil
	}},
	{long: "cap-add", apply: func(c *ContainerConfig, v string) error {
		c.HostConfig.CapAdd = append(c.HostConfig.CapAdd, v)
		return nil
	}},
	{long: "cap-drop", apply: func(c *ContainerConfig, v string) error {
		c.HostConfig.CapDrop = append(c.HostConfig.CapDrop, v)
		return nil
	}},
	{long: "security-opt", apply: func(c *ContainerConfig, v string) error {
		c.HostConfig.SecurityOpt = append(c.HostConfig.SecurityOpt, v)
		return nil
	}},
	{long: "device", apply: func(c *ContainerConfig, v string) error {
		parts := strings.Split(v, ":")
		if parts[0] == "" || len(parts) > 3 {
			return fmt.Errorf("want HOST_DEVICE[:CONTAINER_DEVICE[:PERMISSIONS]], got %q", v)
		}
		d := DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		if len(parts) > 1 && parts[1] != "" {
			d.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			d.CgroupPermissions = parts[2]
		}
		c.HostConfig.Devices = append(c.HostConfig.Devices, d)
		return nil
	}},
	{long: "ulimit", apply: func(c *ContainerConfig, v string) error {
		name, limits, ok := strings.Cut(v, "=")
		soft, hard, hasHard := strings.Cut(limits, ":")
		if !hasHard {
			hard = soft
		}
		s, err1 := strconv.ParseInt(soft, 10, 64)
		h, err2 := strconv.ParseInt(hard, 10, 64)
		if !ok || name == "" || err1 != nil || err2 != nil {
			return fmt.Errorf("want NAME=SOFT[:HARD], got %q", v)
		}
		c.HostConfig.Ulimits = append(c.HostConfig.Ulimits, Ulimit{Name: name, Soft: s, Hard: h})
		return nil
	}},
	{long: "gpus", apply: func(c *ContainerConfig, v string) error {
		r := DeviceRequest{Capabilities: [][]string{{"gpu"}}}
		switch {
		case v == "all":
			r.Count = -1
		case strings.HasPrefix(v, "device="):
			r.DeviceIDs = strings.Split(strings.TrimPrefix(v, "device="), ",")
		default:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("want all, a count or device=ID[,ID...], got %q", v)
			}
			r.Count = n
		}
		c.HostConfig.DeviceRequests = append(c.HostConfig.DeviceRequests, r)
		return nil
	}},
	{long: "runtime", apply: func(c *ContainerConfig, v string) error {
		c.HostConfig.Runtime = v
		return nil
	}},
	{long: "ipc", apply: func(c *ContainerConfig, v string) error {
		c.HostConfig.IpcMode = v
		return nil
	}},
	{long: "pid", apply: func(c *ContainerConfig, v string) error {
		c.HostConfig.PidMode = v
		return nil
	}},
	{long: "tmpfs", apply: func(c *ContainerConfig, v string) error {
		path, opts, _ := strings.Cut(v, ":")
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("want an absolute CONTAINER_PATH[:OPTIONS], got %q", v)
		}
		if c.HostConfig.Tmpfs == nil {
			c.HostConfig.Tmpfs = map[string]string{}
		}
		c.HostConfig.Tmpfs[path] = opts
		return nil
	}},
	{long: "add-host", apply: func(c *ContainerConfig, v string) error {
		if h, ip, ok := strings.Cut(v, ":"); !ok || h == "" || ip == "" {
			return fmt.Errorf("want HOST:IP, got %q", v)
		}
		c.HostConfig.ExtraHosts = append(c.HostConfig.ExtraHosts, v)
		return nil
	}},
}

// RunOptionNames lists the `docker run` options ApplyRunOptions understands, for messages and docs.
func RunOptionNames() []string {
	out := make([]string, 0, len(runOptions))
	for _, o := range runOptions {
		n := "--" + o.long
		if o.short != "" {
			n = "-" + o.short + "/" + n
		}
		out = append(out, n)
	}
	return out
}

// ApplyRunOptions applies `docker run` options, as SkyPilot's docker.run_options lists them (each entry one or
// more options: "--shm-size=2g", "-v /data:/data", "--cap-add SYS_ADMIN"), to cfg. An option it does not know,
// or one that would break what stix relies on (--network, --rm, --name, ...), is an error naming it.
func ApplyRunOptions(cfg *ContainerConfig, entries []string) error {
	var words []string
	for _, e := range entries {
		w, err := splitWords(e)
		if err != nil {
			return fmt.Errorf("docker run option %q: %w", e, err)
		}
		words = append(words, w...)
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		var (
			name, value string
			hasValue    bool
			o           *runOption
		)
		switch {
		case strings.HasPrefix(w, "--"):
			name, value, hasValue = strings.Cut(w, "=")
			o = findRunOption(func(o runOption) bool { return o.long == name[2:] })
		case len(w) >= 2 && w[0] == '-':
			// -v VALUE, -vVALUE and -v=VALUE, as docker reads them
			name, value = w[:2], strings.TrimPrefix(w[2:], "=")
			hasValue = len(w) > 2
			o = findRunOption(func(o runOption) bool { return o.short == w[1:2] })
		default:
			return fmt.Errorf("docker run option %q: not an option (options start with - or --)", w)
		}
		if o == nil {
			return fmt.Errorf("docker run option %q is not supported on stix's Docker nodes; supported: %s", name, strings.Join(RunOptionNames(), ", "))
		}
		switch {
		case o.flag && hasValue:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("docker run option %s takes no value, got %q", name, value)
			}
			if !b {
				continue
			}
		case !o.flag && !hasValue:
			if i+1 == len(words) {
				return fmt.Errorf("docker run option %s needs a value", name)
			}
			i++
			value = words[i]
		}
		if err := o.apply(cfg, value); err != nil {
			return fmt.Errorf("docker run option %s: %w", name, err)
		}
	}
	return nil
}

func findRunOption(match func(runOption) bool) *runOption {
	if i := slices.IndexFunc(runOptions, match); i >= 0 {
		return &runOptions[i]
	}
	return nil
}

// splitWords splits s into words at unquoted white space, as a shell would without expanding anything: single
// and double quotes group, a backslash escapes the next character outside single quotes.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'' && r == '\'', quote == '"' && r == '"':
			quote = 0
		case quote == '\'':
			cur.WriteRune(r)
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case quote == '"':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case unicode.IsSpace(r):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// ramInBytes reads a size as docker does: a number with an optional unit b, k, m, g or t (binary multiples, an
// optional trailing b: "2g", "512mb", "1024").
func ramInBytes(s string) (int64, error) {
	t := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("kmgt", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("want a size such as 2g or 512m, got %q", s)
	}
	return int64(f * float64(mult)), nil
}
