package dockerapi

import (
	"reflect"
	"strings"
	"testing"
)

func TestApplyRunOptions(t *testing.T) {
	t.Parallel()
	var cfg ContainerConfig
	err := ApplyRunOptions(&cfg, []string{
		"-v /var/run/docker.sock:/var/run/docker.sock",
		"--shm-size=2g",
		"--cap-add SYS_ADMIN", "--cap-drop=NET_RAW",
		`-e "GREETING=hello world"`, "-eX=1", "--env=Y=a=b",
		"--privileged", "--ulimit nofile=1024:2048", "--ulimit=memlock=-1",
		"--device /dev/fuse", "--gpus all", "--gpus device=0,1",
		"--ipc=host", "--tmpfs /scratch:size=64m", "--add-host db:10.0.0.2", "-v/a:/b:ro",
	})
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HostConfig
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("Binds", h.Binds, []string{"/var/run/docker.sock:/var/run/docker.sock", "/a:/b:ro"})
	check("ShmSize", h.ShmSize, int64(2<<30))
	check("CapAdd", h.CapAdd, []string{"SYS_ADMIN"})
	check("CapDrop", h.CapDrop, []string{"NET_RAW"})
	check("Env", cfg.Env, []string{"GREETING=hello world", "X=1", "Y=a=b"})
	check("Privileged", h.Privileged, true)
	check("Ulimits", h.Ulimits, []Ulimit{{"nofile", 1024, 2048}, {"memlock", -1, -1}})
	check("Devices", h.Devices, []DeviceMapping{{"/dev/fuse", "/dev/fuse", "rwm"}})
	check("DeviceRequests", h.DeviceRequests, []DeviceRequest{
		{Count: -1, Capabilities: [][]string{{"gpu"}}},
		{DeviceIDs: []string{"0", "1"}, Capabilities: [][]string{{"gpu"}}},
	})
	check("IpcMode", h.IpcMode, "host")
	check("Tmpfs", h.Tmpfs, map[string]string{"/scratch": "size=64m"})
	check("ExtraHosts", h.ExtraHosts, []string{"db:10.0.0.2"})
}

func TestApplyRunOptionsRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ opt, want string }{
		{"--network host", `"--network" is not supported on stix's Docker nodes; supported: -v/--volume`},
		{"--rm", `"--rm" is not supported`},
		{"-d", `"-d" is not supported`},
		{"--shm-size", "--shm-size needs a value"},
		{"--shm-size=lots", `want a size such as 2g or 512m, got "lots"`},
		{"-v /data", `want HOST_PATH:CONTAINER_PATH[:OPTIONS], got "/data"`},
		{"--ulimit nofile", `want NAME=SOFT[:HARD]`},
		{"--gpus two", `want all, a count or device=ID`},
		{"--privileged=maybe", "--privileged takes no value"},
		{"--cap-add 'SYS_ADMIN", "unterminated ' quote"},
		{"shm-size=1g", "not an option"},
	} {
		var cfg ContainerConfig
		err := ApplyRunOptions(&cfg, []string{tt.opt})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ApplyRunOptions(%q) = %v, want an error containing %q", tt.opt, err, tt.want)
		}
	}
}
