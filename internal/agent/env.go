package agent

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// runTimestamp is SkyPilot's run id for a submission at t: "sky-2023-07-06-21-18-31-563597" (local time, like
// Python's datetime.now()).
func runTimestamp(t time.Time) string {
	return fmt.Sprintf("sky-%s-%06d", t.Format("2006-01-02-15-04-05"), t.Nanosecond()/1000)
}

// taskID is SKYPILOT_TASK_ID: "<run timestamp>_<cluster>_<job id>".
func taskID(runTS, cluster string, jobID int64) string {
	return fmt.Sprintf("%s_%s_%d", runTS, cluster, jobID)
}

// clusterInfoJSON is SKYPILOT_CLUSTER_INFO, byte for byte what SkyPilot's Python json.dumps writes:
// {"cluster_name": "c", "cloud": "GCP", "region": "us-central1", "zone": "us-central1-a"}; an unknown region or
// zone is null.
func clusterInfoJSON(c ClusterConfig) string {
	field := func(k, v string, nullIfEmpty bool) string {
		if v == "" && nullIfEmpty {
			return pyString(k) + ": null"
		}
		return pyString(k) + ": " + pyString(v)
	}
	return "{" + strings.Join([]string{
		field("cluster_name", c.ClusterName, false),
		field("cloud", c.Cloud, false),
		field("region", c.Region, true),
		field("zone", c.Zone, true),
	}, ", ") + "}"
}

// pyString quotes s the way Python's json.dumps does with ensure_ascii: non-ASCII as \uXXXX (surrogate pairs
// above U+FFFF), and only '"', '\\' and control characters escaped otherwise (Go's encoder differs on <, >, &).
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// gpusPerNode is SKYPILOT_NUM_GPUS_PER_NODE: the accelerator count per node, rounded up (0.5 → 1).
func gpusPerNode(d Demand) int {
	var sum float64
	for _, v := range d.Accelerators {
		sum += v
	}
	return int(math.Ceil(sum))
}

// jobEnv is what every process of a job sees: SkyPilot's job-wide variables (which the job's envs may
// override: a managed-job controller sets its own SKYPILOT_TASK_ID), then envs, then secrets.
func jobEnv(id int64, spec JobSpec, c ClusterConfig, task string) map[string]string {
	user := spec.User
	if user == "" {
		user = c.User
	}
	env := map[string]string{
		"SKYPILOT_TASK_ID":         task,
		"SKYPILOT_CLUSTER_INFO":    clusterInfoJSON(c),
		"SKYPILOT_USER":            user,
		"SKYPILOT_INTERNAL_JOB_ID": strconv.FormatInt(id, 10),
	}
	for k, v := range spec.Envs {
		env[k] = v
	}
	for k, v := range spec.Secrets {
		env[k] = v
	}
	return env
}

// setupEnv is the environment of setup on cluster node `node` (setup runs on every node of the cluster).
func setupEnv(base map[string]string, spec JobSpec, c ClusterConfig, node int) map[string]string {
	env := clone(base)
	env["SKYPILOT_SETUP_NODE_RANK"] = strconv.Itoa(node)
	env["SKYPILOT_SETUP_NODE_IPS"] = strings.Join(clusterIPs(c), "\n")
	env["SKYPILOT_SETUP_NUM_GPUS_PER_NODE"] = strconv.Itoa(gpusPerNode(spec.DemandPerNode))
	env["SKYPILOT_NUM_NODES"] = strconv.Itoa(spec.NumNodes) // submit made it at least 1
	return env
}

// runEnv is the environment of rank `rank` of a job placed on `place` (one assignment per rank).
func runEnv(base map[string]string, spec JobSpec, c ClusterConfig, place []Assignment, rank int, nodeHasDevices bool) map[string]string {
	env := clone(base)
	ips := make([]string, len(place))
	for i, a := range place {
		if a.Node >= 0 && a.Node < len(c.Nodes) {
			ips[i] = c.Nodes[a.Node].IP
		}
	}
	env["SKYPILOT_NODE_RANK"] = strconv.Itoa(rank)
	env["SKYPILOT_NODE_IPS"] = strings.Join(ips, "\n")
	env["SKYPILOT_NUM_NODES"] = strconv.Itoa(len(place))
	env["SKYPILOT_NUM_GPUS_PER_NODE"] = strconv.Itoa(gpusPerNode(spec.DemandPerNode))
	if nodeHasDevices {
		// Like Ray under SkyPilot: a job that asked for no GPU sees none.
		env["CUDA_VISIBLE_DEVICES"] = place[rank].gpuList()
	}
	return env
}

func clusterIPs(c ClusterConfig) []string {
	ips := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ips[i] = n.IP
	}
	return ips
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+8)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// nodeName is how SkyPilot names cluster node i in log prefixes: head, worker1, worker2, ...
func nodeName(i int) string {
	if i == 0 {
		return "head"
	}
	return "worker" + strconv.Itoa(i)
}

// setupPrefix is SkyPilot's log prefix for setup output: "(setup pid=1234) " on the head, with ", ip=..." on
// workers.
func setupPrefix(node, pid int, ip string) string {
	if node == 0 {
		return fmt.Sprintf("(setup pid=%d) ", pid)
	}
	return fmt.Sprintf("(setup pid=%d, ip=%s) ", pid, ip)
}

// runPrefix is SkyPilot's log prefix for run output: "(task, pid=1234) " (the job's name, else "task") on a
// single-node cluster; "(head, rank=0, pid=1234) " and "(worker1, rank=1, pid=1235, ip=10.0.0.2) " on a
// multi-node one.
func runPrefix(clusterNodes int, jobName string, node, rank, pid int, ip string) string {
	if clusterNodes == 1 {
		if jobName == "" {
			jobName = "task"
		}
		return fmt.Sprintf("(%s, pid=%d) ", jobName, pid)
	}
	if node == 0 {
		return fmt.Sprintf("(%s, rank=%d, pid=%d) ", nodeName(node), rank, pid)
	}
	return fmt.Sprintf("(%s, rank=%d, pid=%d, ip=%s) ", nodeName(node), rank, pid, ip)
}
