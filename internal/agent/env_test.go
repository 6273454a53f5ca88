package agent

import (
	"testing"
	"time"
)

func TestRunTimestampAndTaskID(t *testing.T) {
	t.Parallel()
	ts := runTimestamp(time.Date(2023, 7, 6, 21, 18, 31, 563597123, time.Local))
	if ts != "sky-2023-07-06-21-18-31-563597" {
		t.Errorf("runTimestamp = %q", ts)
	}
	// SkyPilot's documented example value.
	if id := taskID(ts, "myclus", 1); id != "sky-2023-07-06-21-18-31-563597_myclus_1" {
		t.Errorf("taskID = %q", id)
	}
}

func TestClusterInfoJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    ClusterConfig
		want string
	}{
		{ClusterConfig{ClusterName: "kimi", Cloud: "GCP", Region: "us-central1", Zone: "us-central1-a"},
			`{"cluster_name": "kimi", "cloud": "GCP", "region": "us-central1", "zone": "us-central1-a"}`},
		{ClusterConfig{ClusterName: "local", Cloud: "Kubernetes"},
			`{"cluster_name": "local", "cloud": "Kubernetes", "region": null, "zone": null}`},
		{ClusterConfig{ClusterName: "a\"b<é😀\n"},
			`{"cluster_name": "a\"b<\u00e9\ud83d\ude00\n", "cloud": "", "region": null, "zone": null}`},
	}
	for _, tt := range tests {
		if got := clusterInfoJSON(tt.c); got != tt.want {
			t.Errorf("clusterInfoJSON = %s\nwant            %s", got, tt.want)
		}
	}
}

func TestPrefixes(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{setupPrefix(0, 10, "10.0.0.1"), "(setup pid=10) "},
		{setupPrefix(2, 11, "10.0.0.3"), "(setup pid=11, ip=10.0.0.3) "},
		{runPrefix(1, "", 0, 0, 12, "10.0.0.1"), "(task, pid=12) "},
		{runPrefix(1, "train", 0, 0, 12, "10.0.0.1"), "(train, pid=12) "},
		{runPrefix(3, "train", 0, 0, 13, "10.0.0.1"), "(head, rank=0, pid=13) "},
		{runPrefix(3, "train", 2, 1, 14, "10.0.0.3"), "(worker2, rank=1, pid=14, ip=10.0.0.3) "},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("prefix %q, want %q", tt.got, tt.want)
		}
	}
}

func TestJobEnvironments(t *testing.T) {
	t.Parallel()
	c := ClusterConfig{ClusterName: "c", Cloud: "AWS", User: "clusteruser", Nodes: []Node{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}, {IP: "10.0.0.3"}}}
	spec := JobSpec{NumNodes: 2, DemandPerNode: Demand{Accelerators: map[string]float64{"T4": 0.5}},
		Envs: map[string]string{"SKYPILOT_TASK_ID": "managed-id", "SKYPILOT_NODE_RANK": "ignored", "A": "1"}, Secrets: map[string]string{"S": "x"}}
	base := jobEnv(7, spec, c, "sky-x_c_7")
	if base["SKYPILOT_TASK_ID"] != "managed-id" || base["SKYPILOT_USER"] != "clusteruser" || base["SKYPILOT_INTERNAL_JOB_ID"] != "7" || base["S"] != "x" {
		t.Errorf("job env = %v", base)
	}
	place := []Assignment{{Node: 2, Devices: []DeviceShare{{1, 500}}}, {Node: 0, Devices: []DeviceShare{{0, 500}}}}
	run := runEnv(base, spec, c, place, 0, true)
	want := map[string]string{"SKYPILOT_NODE_RANK": "0", "SKYPILOT_NODE_IPS": "10.0.0.3\n10.0.0.1", "SKYPILOT_NUM_NODES": "2",
		"SKYPILOT_NUM_GPUS_PER_NODE": "1", "CUDA_VISIBLE_DEVICES": "1", "A": "1"}
	for k, v := range want {
		if run[k] != v {
			t.Errorf("run env %s = %q, want %q", k, run[k], v)
		}
	}
	if _, ok := runEnv(base, spec, c, place, 1, false)["CUDA_VISIBLE_DEVICES"]; ok {
		t.Error("CUDA_VISIBLE_DEVICES set on a node without devices")
	}
	setup := setupEnv(base, spec, c, 1)
	want = map[string]string{"SKYPILOT_SETUP_NODE_RANK": "1", "SKYPILOT_SETUP_NODE_IPS": "10.0.0.1\n10.0.0.2\n10.0.0.3",
		"SKYPILOT_SETUP_NUM_GPUS_PER_NODE": "1", "SKYPILOT_NUM_NODES": "2"}
	for k, v := range want {
		if setup[k] != v {
			t.Errorf("setup env %s = %q, want %q", k, setup[k], v)
		}
	}
	if _, ok := base["SKYPILOT_SETUP_NODE_RANK"]; ok {
		t.Error("setupEnv changed the base environment")
	}
}
