package spec

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SkyServe defaults.
const (
	DefaultInitialDelaySeconds   = 1200
	DefaultReadinessTimeoutSecs  = 15
	DefaultMinReplicas           = 1
	DefaultLoadBalancingPolicy   = "least_load"
	DefaultReadinessProbePath    = "/"
	defaultServiceProbeJSONLimit = 1 << 20

	// DefaultUpscaleDelaySeconds and DefaultDownscaleDelaySeconds are how long the load must stay above (below)
	// the target before SkyServe's autoscaler adds (removes) replicas.
	DefaultUpscaleDelaySeconds   = 300
	DefaultDownscaleDelaySeconds = 1200

	// InstanceAwareLeastLoad is the policy that weighs each replica's load by its accelerator's target QPS; it goes
	// with target_qps_per_replica given per accelerator, and only with it.
	InstanceAwareLeastLoad = "instance_aware_least_load"
)

// LoadBalancingPolicies and SpotPlacers are the accepted SkyServe policy names.
var (
	LoadBalancingPolicies = []string{"round_robin", "least_load", "instance_aware_least_load"}
	SpotPlacers           = []string{"dynamic_fallback"}
)

// ServiceSpec is a task's `service:` section (SkyServe), normalised: the old `replicas: N` form becomes
// MinReplicas = N with no autoscaling.
type ServiceSpec struct {
	ReadinessProbe ReadinessProbe `json:"readiness_probe"`

	MinReplicas                  int                `json:"min_replicas"`
	MaxReplicas                  *int               `json:"max_replicas,omitempty"`
	TargetQPSPerReplica          *float64           `json:"target_qps_per_replica,omitempty"`
	TargetQPSPerAccelerator      map[string]float64 `json:"target_qps_per_accelerator,omitempty"`
	UpscaleDelaySeconds          *float64           `json:"upscale_delay_seconds,omitempty"`
	DownscaleDelaySeconds        *float64           `json:"downscale_delay_seconds,omitempty"`
	NumOverprovision             *int               `json:"num_overprovision,omitempty"`
	BaseOndemandFallbackReplicas *int               `json:"base_ondemand_fallback_replicas,omitempty"`
	DynamicOndemandFallback      *bool              `json:"dynamic_ondemand_fallback,omitempty"`
	SpotPlacer                   string             `json:"spot_placer,omitempty"`

	LoadBalancingPolicy string `json:"load_balancing_policy,omitempty"` // "" = DefaultLoadBalancingPolicy
	Ports               int    `json:"ports,omitempty"`                 // replica port; 0 = from resources.ports
	TLS                 *TLS   `json:"tls,omitempty"`
}

// MaxReplicasOrMin is max_replicas, or min_replicas when it is not set (a fixed-size service).
func (s *ServiceSpec) MaxReplicasOrMin() int {
	if s.MaxReplicas != nil {
		return *s.MaxReplicas
	}
	return s.MinReplicas
}

// Upscale and Downscale are the autoscaler's hysteresis delays, SkyServe's defaults applied.
func (s *ServiceSpec) Upscale() float64 {
	return orDefault(s.UpscaleDelaySeconds, DefaultUpscaleDelaySeconds)
}
func (s *ServiceSpec) Downscale() float64 {
	return orDefault(s.DownscaleDelaySeconds, DefaultDownscaleDelaySeconds)
}

func orDefault(p *float64, def float64) float64 {
	if p != nil {
		return *p
	}
	return def
}

// OndemandFallback reports whether spot replicas are backed by on-demand ones (a base count, or dynamic
// fallback), which is what makes SkyServe mix spot and on-demand replicas.
func (s *ServiceSpec) OndemandFallback() bool {
	return (s.DynamicOndemandFallback != nil && *s.DynamicOndemandFallback) ||
		(s.BaseOndemandFallbackReplicas != nil && *s.BaseOndemandFallbackReplicas > 0)
}

// Policy is the load-balancing policy, the default applied.
func (s *ServiceSpec) Policy() string {
	if s.LoadBalancingPolicy == "" {
		return DefaultLoadBalancingPolicy
	}
	return s.LoadBalancingPolicy
}

// Autoscaling reports whether the replica count follows the load (max_replicas and target QPS set).
func (s *ServiceSpec) Autoscaling() bool {
	return s.MaxReplicas != nil && (s.TargetQPSPerReplica != nil || len(s.TargetQPSPerAccelerator) > 0)
}

// ReadinessProbe is how SkyServe decides a replica is ready: GET Path (POST when PostData is set).
type ReadinessProbe struct {
	Path                string            `json:"path"`
	InitialDelaySeconds float64           `json:"initial_delay_seconds"`
	TimeoutSeconds      float64           `json:"timeout_seconds"`
	PostData            any               `json:"post_data,omitempty"` // JSON body, decoded
	Headers             map[string]string `json:"headers,omitempty"`
}

// TLS is the certificate the service's load balancer serves.
type TLS struct {
	Keyfile  string `json:"keyfile"`
	Certfile string `json:"certfile"`

	// Where each was written, for CheckFiles (known only where the file was read).
	KeyfilePos  Pos `json:"-"`
	CertfilePos Pos `json:"-"`
}

// service decodes and checks a (substituted) service section as SkyServe does.
func (d *decoder) service(v *value, path string) *ServiceSpec {
	if v == nil || v.kind != kindMap {
		return nil
	}
	s := &ServiceSpec{
		ReadinessProbe: ReadinessProbe{Path: DefaultReadinessProbePath, InitialDelaySeconds: DefaultInitialDelaySeconds, TimeoutSeconds: DefaultReadinessTimeoutSecs},
		MinReplicas:    DefaultMinReplicas,
	}
	d.readinessProbe(&s.ReadinessProbe, v.field("readiness_probe"), joinPath(path, "readiness_probe"))

	replicas, policy := v.field("replicas"), v.field("replica_policy")
	if replicas != nil && policy != nil {
		d.keyErr(policy.keyLine, policy.keyCol, joinPath(path, "replica_policy"), "cannot give both replicas and replica_policy", "replicas: N is the fixed-size short form; keep one")
	}
	if replicas != nil {
		if n, ok := replicas.val.integer(); ok {
			s.MinReplicas = int(n)
		}
	} else if policy != nil && policy.val.kind == kindMap {
		d.replicaPolicy(s, policy.val, joinPath(path, "replica_policy"))
	}

	if f := v.field("load_balancing_policy"); f != nil {
		if p, ok := f.val.str(); ok {
			t, err := validTier(p, LoadBalancingPolicies, "load_balancing_policy")
			d.checkValue(f.val, joinPath(path, "load_balancing_policy"), err)
			s.LoadBalancingPolicy = t
		}
	}
	if n, ok := v.get("ports").integer(); ok {
		s.Ports = int(n)
	}
	if t := v.get("tls"); t != nil && t.kind == kindMap {
		s.TLS = &TLS{}
		if k := t.get("keyfile"); k != nil {
			s.TLS.Keyfile, _ = k.str()
			s.TLS.KeyfilePos = d.pos(k.line, k.col)
		}
		if c := t.get("certfile"); c != nil {
			s.TLS.Certfile, _ = c.str()
			s.TLS.CertfilePos = d.pos(c.line, c.col)
		}
	}
	d.instanceAware(s, v, path)
	return s
}

// instanceAware checks SkyServe's pairing of per-accelerator target QPS with the instance-aware policy: each
// needs the other. stix also refuses per-accelerator targets with on-demand fallback, whose autoscaler sizes
// by a single target (SkyServe accepts the file and fails once the service runs).
func (d *decoder) instanceAware(s *ServiceSpec, v *value, path string) {
	perAcc := len(s.TargetQPSPerAccelerator) > 0
	policyPath := joinPath(path, "load_balancing_policy")
	qpsPath := joinPath(joinPath(path, "replica_policy"), "target_qps_per_replica")
	switch {
	case perAcc && s.LoadBalancingPolicy != InstanceAwareLeastLoad:
		f := v.field("replica_policy").val.field("target_qps_per_replica")
		d.keyErr(f.keyLine, f.keyCol, qpsPath, "target_qps_per_replica given per accelerator needs load_balancing_policy: "+InstanceAwareLeastLoad,
			"set load_balancing_policy: "+InstanceAwareLeastLoad+", or give one number for every replica")
	case !perAcc && s.LoadBalancingPolicy == InstanceAwareLeastLoad:
		f := v.field("load_balancing_policy")
		d.valueErr(f.val, policyPath, &hintError{"load_balancing_policy " + InstanceAwareLeastLoad + " needs target_qps_per_replica given per accelerator",
			"map each accelerator to its QPS, e.g. target_qps_per_replica: {A100: 10, L4: 4}"})
	case perAcc && s.OndemandFallback():
		f := v.field("replica_policy").val.field("target_qps_per_replica")
		d.keyErr(f.keyLine, f.keyCol, qpsPath, "target_qps_per_replica given per accelerator cannot be combined with on-demand fallback",
			"drop base_ondemand_fallback_replicas and dynamic_ondemand_fallback, or give one number for every replica")
	}
}

// CheckFiles reports a keyfile or certfile that cannot be read, or a pair that does not match, at the position
// where each was written. Load does not look at them (the file may be validated where they do not exist);
// `serve up` calls this where it reads them.
func (t *TLS) CheckFiles() error {
	var errs ErrorList
	for _, f := range []struct {
		key, path string
		pos       Pos
	}{{"keyfile", t.Keyfile, t.KeyfilePos}, {"certfile", t.Certfile, t.CertfilePos}} {
		if _, err := os.Stat(expandTilde(f.path)); err != nil {
			errs = append(errs, &Error{Pos: f.pos, Path: "service.tls." + f.key,
				Message: fmt.Sprintf("cannot read %s %q: %v", f.key, f.path, unwrapPathErr(err)),
				Hint:    "give the path of a PEM file on this machine"})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := tls.LoadX509KeyPair(expandTilde(t.Certfile), expandTilde(t.Keyfile)); err != nil {
		return ErrorList{{Pos: t.CertfilePos, Path: "service.tls", Message: "certfile and keyfile are not a usable pair: " + err.Error(),
			Hint: "both must be PEM; the key must be the certificate's private key"}}
	}
	return nil
}

// expandTilde expands a leading ~/ as SkyServe does for the TLS paths.
func expandTilde(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// unwrapPathErr drops the path from an *fs.PathError, which the message already names.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ServiceOf checks a task for serving as SkyServe does at `serve up` and returns its service section with the
// replicas' service port: an error naming the file when it has no service section; on-demand fallback or a spot
// placer without use_spot: true; no single replica port (service.ports, else exactly one port, the same in every
// resources candidate).
func ServiceOf(t *Task, file string) (*ServiceSpec, int, error) {
	if t == nil || t.Service == nil {
		return nil, 0, &Error{Pos: Pos{File: file}, Message: "this file has no service section",
			Hint: "add service: with at least readiness_probe: /PATH to serve this task"}
	}
	s := t.Service
	errAt := func(path, msg, hint string) error {
		return &Error{Pos: Pos{File: file}, Path: path, Message: msg, Hint: hint}
	}
	cands, _ := t.Resources.Candidates()
	port := s.Ports
	for _, c := range cands {
		if s.OndemandFallback() && !c.Spot() {
			return nil, 0, errAt("resources.use_spot", "on-demand fallback (base_ondemand_fallback_replicas, dynamic_ondemand_fallback) is only for spot resources",
				"set use_spot: true in resources")
		}
		if s.SpotPlacer != "" && !c.Spot() {
			return nil, 0, errAt("resources.use_spot", "spot_placer is only for spot resources", "set use_spot: true in resources")
		}
		if s.Ports != 0 {
			continue
		}
		if len(c.Ports) != 1 || c.Ports[0].From != c.Ports[0].To {
			found := "none"
			if len(c.Ports) > 0 {
				found = c.Ports.String()
			}
			return nil, 0, errAt("resources.ports", "a service needs exactly one port in resources, found "+found,
				"each replica serves on that port; to open several, set service.ports to the main one")
		}
		if port != 0 && port != c.Ports[0].From {
			return nil, 0, errAt("resources.ports", fmt.Sprintf("the resources candidates give different ports, %d and %d", port, c.Ports[0].From),
				"give every candidate the same port")
		}
		port = c.Ports[0].From
	}
	return s, port, nil
}

func (d *decoder) readinessProbe(p *ReadinessProbe, f *field, path string) {
	if f == nil {
		return
	}
	v := f.val
	pathVal := v
	switch v.kind {
	case kindString:
		p.Path = v.s
	case kindMap:
		pathVal = v.get("path")
		p.Path, _ = pathVal.str()
		if n, ok := v.get("initial_delay_seconds").number(); ok {
			p.InitialDelaySeconds = n
		}
		if n, ok := v.get("timeout_seconds").number(); ok {
			p.TimeoutSeconds = n
		}
		if h := v.get("headers"); h != nil && h.kind == kindMap {
			p.Headers = map[string]string{}
			for _, hf := range h.fields {
				p.Headers[hf.key], _ = hf.val.str()
			}
		}
		if pd := v.get("post_data"); pd != nil {
			p.PostData = d.postData(pd, joinPath(path, "post_data"))
		}
		path = joinPath(path, "path")
	default:
		return
	}
	if pathVal != nil && pathVal.kind == kindString && !strings.HasPrefix(p.Path, "/") && !d.pendingRef(p.Path) {
		d.valueErr(pathVal, path, fmt.Errorf("the readiness probe path must start with /, found %q", p.Path))
	}
}

// postData decodes a probe body: a mapping, or a string holding JSON.
func (d *decoder) postData(v *value, path string) any {
	switch v.kind {
	case kindMap:
		return v.toAny()
	case kindString:
		if d.pendingRef(v.s) {
			return v.s
		}
		var body any
		if len(v.s) > defaultServiceProbeJSONLimit || json.Unmarshal([]byte(v.s), &body) != nil {
			d.valueErr(v, path, fmt.Errorf("post_data must be a mapping or a JSON string, found %s", v.describe()))
			return nil
		}
		return body
	}
	return nil
}

func (d *decoder) replicaPolicy(s *ServiceSpec, v *value, path string) {
	intPtr := func(key string) *int {
		if n, ok := v.get(key).integer(); ok {
			i := int(n)
			return &i
		}
		return nil
	}
	floatPtr := func(key string) *float64 {
		if n, ok := v.get(key).number(); ok {
			return &n
		}
		return nil
	}
	if n := intPtr("min_replicas"); n != nil {
		s.MinReplicas = *n
	}
	s.MaxReplicas = intPtr("max_replicas")
	s.NumOverprovision = intPtr("num_overprovision")
	s.BaseOndemandFallbackReplicas = intPtr("base_ondemand_fallback_replicas")
	s.UpscaleDelaySeconds = floatPtr("upscale_delay_seconds")
	s.DownscaleDelaySeconds = floatPtr("downscale_delay_seconds")
	if b := v.get("dynamic_ondemand_fallback"); b != nil && b.kind == kindBool {
		s.DynamicOndemandFallback = &b.b
	}
	qps := v.get("target_qps_per_replica")
	if n, ok := qps.number(); ok {
		s.TargetQPSPerReplica = &n
	} else if qps != nil && qps.kind == kindMap {
		s.TargetQPSPerAccelerator = map[string]float64{}
		for _, f := range qps.fields {
			if n, ok := f.val.number(); ok {
				s.TargetQPSPerAccelerator[f.key] = n
			}
		}
	}
	if f := v.field("spot_placer"); f != nil {
		if p, ok := f.val.str(); ok {
			t, err := validTier(p, SpotPlacers, "spot_placer")
			d.checkValue(f.val, joinPath(path, "spot_placer"), err)
			s.SpotPlacer = t
		}
	}

	maxF := v.field("max_replicas")
	switch {
	case s.MaxReplicas != nil && *s.MaxReplicas < s.MinReplicas:
		d.valueErr(maxF.val, joinPath(path, "max_replicas"), fmt.Errorf("max_replicas (%d) must be at least min_replicas (%d)", *s.MaxReplicas, s.MinReplicas))
	case qps != nil && s.MaxReplicas == nil:
		f := v.field("target_qps_per_replica")
		d.keyErr(f.keyLine, f.keyCol, joinPath(path, "target_qps_per_replica"), "target_qps_per_replica needs max_replicas", "set max_replicas to enable autoscaling")
	case qps == nil && s.MaxReplicas != nil && *s.MaxReplicas != s.MinReplicas:
		d.keyErr(maxF.keyLine, maxF.keyCol, joinPath(path, "max_replicas"),
			fmt.Sprintf("max_replicas (%d) differs from min_replicas (%d) but target_qps_per_replica is not set", *s.MaxReplicas, s.MinReplicas),
			"set target_qps_per_replica to enable autoscaling")
	}
}
