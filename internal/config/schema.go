package config

import (
	"strings"
	"sync"
)

// typ is a set of YAML types a key accepts.
type typ uint8

const (
	tNull typ = 1 << iota
	tBool
	tInt
	tNumber // any number, integers included
	tString
	tMap
	tList
)

// key is what one config key accepts: its types, and for a mapping its known keys (fields), the schema of the
// values of other keys (values: mappings keyed by names, such as kubernetes.context_configs) or none (open: any
// key, unchecked); for a list, its items. It is SkyPilot's config schema (sky/utils/schemas.py,
// get_config_schema) written as a small tree: the checks stix needs, with positions, and no JSON Schema engine.
type key struct {
	types    typ
	fields   map[string]*key
	values   *key
	open     bool
	items    *key
	enum     []string // allowed strings, compared case-insensitively
	min, max *float64
	prefix   []string // a string must start with one of these (URLs: "http://", "https://")
	required []string
	// honoured marks the keys stix acts on today; every other key that is set draws a warning.
	honoured bool
}

func str() *key     { return &key{types: tString} }
func boolean() *key { return &key{types: tBool} }
func integer() *key { return &key{types: tInt} }
func number() *key  { return &key{types: tNumber} }
func openMap() *key { return &key{types: tMap, open: true} }
func strMap() *key  { return &key{types: tMap, values: str()} }
func listOf(item *key) *key {
	return &key{types: tList, items: item}
}
func obj(fields map[string]*key) *key { return &key{types: tMap, fields: fields} }
func oneOf(enum ...string) *key       { return &key{types: tString, enum: enum} }

// or widens k to accept more types (a list's items, a mapping's keys come from other when k has none).
func (k *key) or(other *key) *key {
	c := *k
	c.types |= other.types
	if c.items == nil {
		c.items = other.items
	}
	if c.fields == nil && c.values == nil && !c.open {
		c.fields, c.values, c.open = other.fields, other.values, other.open
	}
	return &c
}

func (k *key) orNull() *key { return k.or(&key{types: tNull}) }

func (k *key) atLeast(n float64) *key {
	c := *k
	c.min = &n
	return &c
}

func (k *key) atMost(n float64) *key {
	c := *k
	c.max = &n
	return &c
}

func (k *key) honour() *key {
	c := *k
	c.honoured = true
	return &c
}

// with adds fields to a mapping's known keys.
func with(base map[string]*key, more map[string]*key) map[string]*key {
	out := make(map[string]*key, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// allClouds are the infra names allowed_clouds accepts: SkyPilot's clouds (constants.ALL_CLOUDS and its
// storage-only clouds) and stix's own machines (local, docker).
var allClouds = []string{"aws", "azure", "gcp", "ibm", "lambda", "scp", "oci", "kubernetes", "runpod", "vast",
	"vsphere", "cudo", "fluidstack", "paperspace", "do", "nebius", "ssh", "hyperbolic", "slurm", "cloudflare",
	"local", "docker"}

// taskKeys are the keys a task's `config:` may set (SkyPilot's OVERRIDEABLE_CONFIG_KEYS_IN_TASK).
var taskKeys = []string{
	"docker.run_options",
	"nvidia_gpus.disable_ecc",
	"ssh.custom_metadata", "ssh.pod_config", "ssh.provision_timeout",
	"kubernetes.custom_metadata", "kubernetes.pod_config", "kubernetes.provision_timeout", "kubernetes.dws",
	"kubernetes.kueue", "kubernetes.remote_identity",
	"gcp.managed_instance_group", "gcp.enable_gvnic", "gcp.enable_gpu_direct", "gcp.placement_policy",
	"vast.datacenter_only", "vast.create_instance_kwargs",
	"active_workspace",
}

// schema is the whole config tree, built on first use: most commands never read a config file.
var schema = sync.OnceValue(buildSchema)

func buildSchema() *key {
	remoteIdentity := oneOf("LOCAL_CREDENTIALS", "SERVICE_ACCOUNT", "NO_UPLOAD")
	// A name, or a list of one-entry {cluster-name-glob: name} mappings, tried in order.
	nameOrPerCluster := str().or(listOf(&key{types: tMap, values: str()}))
	capabilities := listOf(oneOf("compute", "storage"))
	strOrNull := str().orNull()
	strsOrNull := str().orNull().or(listOf(str()))
	network := map[string]*key{
		"use_internal_ips":  boolean(),
		"ssh_proxy_command": strOrNull.or(&key{types: tMap, values: strOrNull}),
	}
	cloudCommon := with(network, map[string]*key{
		"labels": strMap(), "instance_tags": strMap(), "capabilities": capabilities,
	})
	autostop := boolean().or(integer()).or(str()).or(obj(map[string]*key{
		"idle_minutes": integer().atLeast(0), "down": boolean(),
		"wait_for": oneOf("jobs_and_ssh", "jobs", "none"), "hook": str(), "hook_timeout": integer().atLeast(1),
	}))
	controller := func(extra map[string]*key) *key {
		return obj(with(map[string]*key{
			"controller": obj(map[string]*key{
				"resources":                          openMap(), // a task's resources; checked when a controller launches
				"high_availability":                  boolean(),
				"autostop":                           autostop,
				"consolidation_mode":                 boolean(),
				"controller_logs_gc_retention_hours": integer(),
				"task_logs_gc_retention_hours":       integer(),
			}),
			// The CLI reads these two for a managed job's or a service's files (docs/storage.md, "Data for controllers").
			"bucket":                     (&key{types: tString, prefix: []string{"https://", "s3://", "gs://", "r2://", "cos://"}}).honour(),
			"force_disable_cloud_bucket": boolean().honour(),
		}, extra))
	}
	pricing := obj(map[string]*key{"cpu": number().atLeast(0), "memory": number().atLeast(0),
		"accelerators": &key{types: tMap, values: number().atLeast(0)}})
	contextMinimal := map[string]*key{
		"pod_config": openMap(), "provision_timeout": integer(), "custom_metadata": openMap(),
		"max_inline_command_length": integer().atLeast(1024),
	}
	kueue := obj(map[string]*key{"local_queue_name": str(), "admission_timeout": integer()})
	k8sContext := with(contextMinimal, map[string]*key{
		"allowed_nodes":           obj(map[string]*key{"label_selector": strMap(), "names": listOf(str()), "ips": listOf(str())}),
		"rdma":                    obj(map[string]*key{"mode": str(), "resource": str(), "networks": str()}),
		"networking":              oneOf("portforward", "nodeport"),
		"ports":                   oneOf("loadbalancer", "ingress", "podip", "nodeport"),
		"namespace":               str(),
		"autoscaler":              str(),
		"high_availability":       obj(map[string]*key{"storage_class_name": str()}),
		"kueue":                   kueue,
		"quota":                   &key{types: tMap, fields: map[string]*key{"queue": str()}, open: true},
		"dws":                     obj(map[string]*key{"enabled": boolean(), "max_run_duration": str().or(integer())}),
		"remote_identity":         str().or(strMap()),
		"post_provision_runcmd":   listOf(str()),
		"apt_mirrors":             listOf(str()),
		"set_pod_resource_limits": boolean().or(number()),
		"pricing":                 pricing,
		"auto_mounts": listOf(&key{types: tMap, required: []string{"volume_name", "mount_paths"}, fields: map[string]*key{
			"volume_name": str(), "mount_paths": listOf(str()), "scope": oneOf("personal", "workspace", "global")}}),
		"enable_docker": boolean().or(str()).or(obj(map[string]*key{"mode": oneOf("ALL", "BUILD"), "cache_volume": str()})),
	})
	// What the Kubernetes provider acts on (internal/cloud/kubernetes).
	k8sHonoured := with(k8sContext, map[string]*key{
		"pod_config": openMap().honour(), "provision_timeout": integer().honour(), "namespace": str().honour(),
		"ports": oneOf("loadbalancer", "ingress", "podip", "nodeport").honour(),
	})
	allowedContexts := listOf(str()).or(str())
	slurmCluster := map[string]*key{
		"workdir": str(), "tmpdir": str(), "submit_as_user": boolean(), "username_map": strMap(),
		"prometheus": obj(map[string]*key{"url": str(), "filter": strMap(), "via": str()}), "prometheus_url": str(),
		"pricing": pricing, "sbatch_options": openMap(), "quota": openMap(), "gpu_partition_map": openMap(),
		"cpu_partition": str(), "container_mounts": openMap(), "partition_configs": &key{types: tMap, values: openMap()},
	}
	workspaceCloud := obj(map[string]*key{"disabled": boolean().honour()})
	workspace := obj(map[string]*key{
		"private": boolean().honour(), "allowed_users": listOf(str()).honour(), "read_access": oneOf("allowed_users", "all"),
		"gcp": obj(map[string]*key{"project_id": str(), "disabled": boolean().honour(), "capabilities": capabilities, "remote_identity": remoteIdentity}),
		"aws": obj(map[string]*key{"profile": str(), "disabled": boolean().honour(), "capabilities": capabilities, "remote_identity": nameOrPerCluster}),
		"ssh": obj(map[string]*key{"allowed_node_pools": listOf(str()), "disabled": boolean().honour()}),
		"kubernetes": obj(map[string]*key{"allowed_contexts": allowedContexts, "disabled": boolean().honour(), "namespace": str(),
			"kueue": kueue, "quota": openMap(), "context_configs": &key{types: tMap, values: openMap()},
			"remote_identity": str().or(strMap())}),
		"slurm": obj(map[string]*key{"disabled": boolean().honour(), "allowed_clusters": allowedContexts, "sbatch_options": openMap(),
			"quota": openMap(), "cluster_configs": &key{types: tMap, values: openMap()}}),
		"nebius": obj(map[string]*key{"credentials_file_path": str(), "tenant_id": str(), "domain": str(), "disabled": boolean().honour()}),
	})
	for _, c := range allClouds {
		if workspace.fields[c] == nil {
			workspace.fields[c] = workspaceCloud
		}
	}
	return obj(map[string]*key{
		"workspace": str(),
		"db":        str().honour(),
		"jobs": controller(map[string]*key{"status_check": obj(map[string]*key{
			"min_elapsed_seconds": number().atLeast(0), "min_retries": integer().atLeast(0)})}),
		"serve":          controller(nil),
		"allowed_clouds": listOf(oneOf(allClouds...)).honour(),
		"admin_policy":   str().honour(),
		// stix_admin_policy is stix's own key: the parameters of its built-in admin policies (package policy).
		"stix_admin_policy": obj(map[string]*key{
			"enforce_autostop": obj(map[string]*key{"idle_minutes": integer().atLeast(0), "down": boolean()}).honour(),
			"require_labels":   &key{types: tMap, required: []string{"keys"}, fields: map[string]*key{"keys": listOf(str())}, honoured: true},
			"restrict_infra":   &key{types: tMap, required: []string{"allowed"}, fields: map[string]*key{"allowed": listOf(str())}, honoured: true},
		}),
		"docker":      obj(map[string]*key{"run_options": str().or(listOf(str())).honour()}),
		"nvidia_gpus": obj(map[string]*key{"disable_ecc": boolean()}),
		"api_server": obj(map[string]*key{
			// The CLI reads these two from the user's file to choose its API server (internal/stixcmd).
			"endpoint":                               (&key{types: tString, prefix: []string{"http://", "https://"}}).honour(),
			"service_account_token":                  (&key{types: tString | tNull, prefix: []string{"sky_"}}).honour(),
			"requests_retention_hours":               integer().honour(), // the API server's garbage collection
			"logs_retention_hours":                   integer(),
			"cluster_event_retention_hours":          number(),
			"cluster_debug_event_retention_hours":    number(),
			"cluster_terminal_event_retention_hours": number(),
			"launch_attempt_retention_hours":         number(),
			"daemon_log_max_bytes":                   integer().atLeast(0),
			// stix's: how the server authenticates callers (docs/auth.md).
			"auth": obj(map[string]*key{"service_accounts": boolean().honour(), "htpasswd_file": str().honour(),
				"proxy_header": str().honour(), "trusted_proxies": listOf(str()).honour(), "admins": listOf(str()).honour()}),
		}),
		"active_workspace": str().honour(),
		"workspaces":       &key{types: tMap, values: workspace},
		"workspace_config": obj(map[string]*key{"read_access": oneOf("allowed_users", "all")}),
		"provision":        obj(map[string]*key{"ssh_timeout": integer().atLeast(1).honour(), "install_conda": boolean()}),
		"rbac": obj(map[string]*key{"default_role": oneOf("admin", "user", "viewer").honour(), "restrict_config_to_admins": boolean(),
			"roles": &key{types: tMap, values: openMap()}}),
		"logs": &key{types: tMap, required: []string{"store"}, fields: map[string]*key{
			"store": oneOf("gcp", "aws"),
			"gcp":   &key{types: tMap, open: true, fields: map[string]*key{"project_id": str(), "credentials_file": str(), "additional_labels": strMap()}},
			"aws": &key{types: tMap, open: true, fields: map[string]*key{"region": str(), "credentials_file": str(), "log_group_name": str(),
				"log_stream_prefix": str(), "auto_create_group": boolean(), "additional_tags": strMap()}},
		}},
		"daemons": &key{types: tMap, values: obj(map[string]*key{"log_level": oneOf("DEBUG", "INFO", "WARNING"), "interval_seconds": integer().atLeast(1)})},
		"data":    obj(map[string]*key{"mount_cached": obj(map[string]*key{"sequential_upload": boolean()})}),
		// stix's: where the S3-compatible store of `store: s3` buckets is (docs/storage.md); AWS_ENDPOINT_URL_S3
		// and AWS_ENDPOINT_URL win over it, as in the AWS SDKs.
		"storage":   obj(map[string]*key{"s3": obj(map[string]*key{"endpoint_url": str().honour(), "region": str().honour()})}),
		"dashboard": obj(map[string]*key{"external_links": listOf(&key{types: tMap, required: []string{"label"}, fields: map[string]*key{"label": str(), "regex": str(), "url": str(), "scope": listOf(oneOf("cluster", "jobs"))}})}),
		"metrics":   obj(map[string]*key{"prometheus": obj(map[string]*key{"namespace": str(), "service": str(), "port": integer().atLeast(1).atMost(65535)})}),
		"aws": obj(with(cloudCommon, map[string]*key{
			"prioritize_reservations": boolean(), "specific_reservations": listOf(str()), "disk_encrypted": boolean(),
			"ssh_user": str(), "security_group_name": nameOrPerCluster, "vpc_name": strOrNull, "vpc_names": strsOrNull,
			"subnet_names": strsOrNull, "use_ssm": boolean(), "post_provision_runcmd": listOf(str().or(listOf(str()))),
			"enforce_tags": listOf(oneOf("instance", "volume")), "remote_identity": nameOrPerCluster,
		})),
		"gcp": obj(with(cloudCommon, map[string]*key{
			"prioritize_reservations": boolean(), "specific_reservations": listOf(str()),
			"managed_instance_group": &key{types: tMap, required: []string{"run_duration"},
				fields: map[string]*key{"run_duration": integer(), "provision_timeout": integer()}},
			"force_enable_external_ips": boolean(), "enable_gvnic": boolean(), "enable_gpu_direct": boolean(),
			"placement_policy": str(), "vpc_name": strOrNull, "subnet_names": strsOrNull, "remote_identity": remoteIdentity,
		})),
		"azure": obj(with(cloudCommon, map[string]*key{
			"storage_account": str(), "resource_group_vm": str(), "vpc_name": strOrNull, "remote_identity": nameOrPerCluster,
		})),
		"kubernetes": obj(with(k8sHonoured, map[string]*key{
			"allowed_contexts": allowedContexts.honour(), "context_configs": (&key{types: tMap, values: obj(k8sHonoured)}).honour(),
		})),
		"ssh": obj(with(contextMinimal, map[string]*key{
			"allowed_node_pools": listOf(str()).honour(), "context_configs": &key{types: tMap, values: obj(contextMinimal)},
			"remote_identity": remoteIdentity,
		})),
		"slurm": obj(with(slurmCluster, map[string]*key{
			"allowed_clusters": allowedContexts, "provision_timeout": integer(),
			"cluster_configs": &key{types: tMap, values: obj(slurmCluster)}, "remote_identity": remoteIdentity,
		})),
		"oci": &key{types: tMap, open: true, fields: map[string]*key{
			"region_configs": &key{types: tMap, values: obj(map[string]*key{"compartment_ocid": str(), "image_tag_general": str(),
				"image_tag_gpu": str(), "vcn_ocid": str(), "vcn_subnet": str()})},
			"remote_identity": remoteIdentity,
		}},
		"vast": obj(map[string]*key{"datacenter_only": boolean(), "create_instance_kwargs": openMap(), "remote_identity": remoteIdentity}),
		"nebius": &key{types: tMap, open: true, fields: with(network, map[string]*key{
			"use_static_ip_address": boolean(), "disk_encrypted": boolean(), "tenant_id": str().honour(), "domain": str().honour(),
			"use_personal_pricing": boolean(), "security_group_name": nameOrPerCluster,
			"region_configs":  &key{types: tMap, values: &key{types: tMap, open: true, fields: map[string]*key{"project_id": str().honour()}}},
			"remote_identity": remoteIdentity,
		})},
		"plugins": openMap(),
	})
}

// lookup follows a dotted key path through the schema. It returns the key and -1; nil and -1 inside a free-form
// mapping (pod_config); or nil, the index of the first step that names nothing, and the keys allowed there.
func lookup(path []string) (*key, int, []string) {
	k := schema()
	for i, step := range path {
		switch {
		case k.fields[step] != nil:
			k = k.fields[step]
		case k.values != nil:
			k = k.values
		case k.open:
			return nil, -1, nil // inside a mapping of free-form keys: nothing to check
		default:
			return nil, i, k.keyNames()
		}
	}
	return k, -1, nil
}

// keyNames lists a mapping's known keys, for did-you-mean hints.
func (k *key) keyNames() []string {
	names := make([]string, 0, len(k.fields))
	for n := range k.fields {
		names = append(names, n)
	}
	return names
}

// typeNames renders a set of types as "string or list".
func typeNames(t typ) string {
	var names []string
	for _, e := range []struct {
		t    typ
		name string
	}{{tBool, "boolean"}, {tInt, "integer"}, {tNumber, "number"}, {tString, "string"}, {tMap, "mapping"}, {tList, "list"}, {tNull, "null"}} {
		if t&e.t != 0 && !(e.t == tInt && t&tNumber != 0) {
			names = append(names, e.name)
		}
	}
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
