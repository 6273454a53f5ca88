package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/spec"
)

// The built-in policies, by name. Each reads its parameters under stix_admin_policy.<name>.
var builtinMakers = map[string]func(cfg *config.Config) (step, error){
	"enforce_autostop": newEnforceAutostop,
	"require_labels":   newRequireLabels,
	"restrict_infra":   newRestrictInfra,
}

// DefaultIdleMinutes is enforce_autostop's idle_minutes when none is configured.
const DefaultIdleMinutes = 60

func builtinList() string {
	names := make([]string, 0, len(builtinMakers))
	for n := range builtinMakers {
		names = append(names, BuiltinPrefix+n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// step is one built-in policy: it changes the task (and config) mapping in place, or returns a refusal.
type step func(task, cfg map[string]any) (refusal string)

// builtinSet applies several built-ins in the order named. They act on launches (dry runs included); an exec
// creates nothing and plans nothing, so it passes unchanged.
type builtinSet struct {
	name  string
	steps []step
}

func builtins(cfg *config.Config, names string) (*builtinSet, error) {
	set := &builtinSet{name: BuiltinPrefix + names}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		mk, ok := builtinMakers[n]
		if !ok {
			return nil, fmt.Errorf("unknown built-in policy %q; stix's built-in policies are %s (several: stix:NAME,NAME)", BuiltinPrefix+n, builtinList())
		}
		s, err := mk(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", BuiltinPrefix, n, err)
		}
		set.steps = append(set.steps, s)
	}
	return set, nil
}

func (b *builtinSet) Name() string { return b.name }

func (b *builtinSet) Apply(_ context.Context, r Request) (Result, error) {
	task, cfg := r.Task, r.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	if r.Name == RequestLaunch {
		for _, s := range b.steps {
			if msg := s(task, cfg); msg != "" {
				return Result{}, &Rejected{Policy: b.name, Message: msg}
			}
		}
	}
	tb, err := yaml.Marshal(task)
	if err != nil {
		return Result{}, err
	}
	cb, err := yaml.Marshal(cfg)
	if err != nil {
		return Result{}, err
	}
	return Result{Task: tb, Config: cb}, nil
}

// eachResources calls f on every resources mapping that a node may get: the task's, or each candidate of its
// any_of or ordered list. It makes an empty resources mapping when the task has none.
func eachResources(task map[string]any, f func(res map[string]any) string) string {
	res, ok := task["resources"].(map[string]any)
	if !ok {
		res = map[string]any{}
		task["resources"] = res
	}
	for _, k := range []string{"any_of", "ordered"} {
		if list, ok := res[k].([]any); ok && len(list) > 0 {
			for _, c := range list {
				if cm, ok := c.(map[string]any); ok {
					if msg := f(cm); msg != "" {
						return msg
					}
				}
			}
			return ""
		}
	}
	return f(res)
}

// enforce_autostop: every cluster stops (or, with down, is torn down) after at most idle_minutes idle. A task
// without autostop, or with it off, gets idle_minutes; a longer one is shortened; a shorter one is kept.
func newEnforceAutostop(cfg *config.Config) (step, error) {
	limit := DefaultIdleMinutes
	if v, ok := cfg.Get("stix_admin_policy.enforce_autostop.idle_minutes"); ok {
		if n, ok := v.(int64); ok {
			limit = int(n)
		}
	}
	v, _ := cfg.Get("stix_admin_policy.enforce_autostop.down")
	down, _ := v.(bool)
	return func(task, _ map[string]any) string {
		return eachResources(task, func(res map[string]any) string {
			a, _ := res["autostop"].(map[string]any)
			if a == nil {
				a = map[string]any{"idle_minutes": limit}
			}
			if n, ok := number(a["idle_minutes"]); !ok || n > limit {
				a["idle_minutes"] = limit
			}
			if down {
				a["down"] = true
			}
			res["autostop"] = a
			return ""
		})
	}, nil
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

// require_labels: each key listed must be set, to a value that is not empty, in resources.labels.
func newRequireLabels(cfg *config.Config) (step, error) {
	v, _ := cfg.Get("stix_admin_policy.require_labels.keys")
	var keys []string
	for _, k := range asList(v) {
		keys = append(keys, fmt.Sprint(k))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("stix_admin_policy.require_labels.keys lists no label; list the keys every task must set")
	}
	return func(task, _ map[string]any) string {
		return eachResources(task, func(res map[string]any) string {
			labels, _ := res["labels"].(map[string]any)
			var missing []string
			for _, k := range keys {
				if s := fmt.Sprint(labels[k]); labels[k] == nil || s == "" {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				return fmt.Sprintf("the task must set the labels %s in resources.labels (missing: %s)",
					strings.Join(keys, ", "), strings.Join(missing, ", "))
			}
			return ""
		})
	}, nil
}

// restrict_infra: tasks run only on the infra listed ("aws", "aws/us-east-1", "k8s/my-context", "local"). The
// config's allowed_clouds is narrowed to the clouds listed, so that planning picks nothing else; a task naming
// other infra is refused; a task naming none, when the list allows only one infra, is placed there.
func newRestrictInfra(cfg *config.Config) (step, error) {
	v, _ := cfg.Get("stix_admin_policy.restrict_infra.allowed")
	var allowed []spec.Infra
	for _, s := range asList(v) {
		inf, err := spec.ParseInfra(fmt.Sprint(s))
		if err != nil {
			return nil, fmt.Errorf("stix_admin_policy.restrict_infra.allowed: %w", err)
		}
		if inf.Cloud == "" {
			return nil, fmt.Errorf("stix_admin_policy.restrict_infra.allowed: %q names no cloud; name one (aws, aws/us-east-1, k8s, local, ...)", fmt.Sprint(s))
		}
		allowed = append(allowed, inf)
	}
	if len(allowed) == 0 {
		return nil, fmt.Errorf("stix_admin_policy.restrict_infra.allowed lists no infra; list where tasks may run")
	}
	var clouds, names []string
	cloudsOnly := true
	for _, a := range allowed {
		if !slices.Contains(clouds, a.Cloud) {
			clouds = append(clouds, a.Cloud)
		}
		names = append(names, a.String())
		cloudsOnly = cloudsOnly && a == spec.Infra{Cloud: a.Cloud}
	}
	list := strings.Join(names, ", ")
	return func(task, cfg map[string]any) string {
		narrowed := clouds
		if have, ok := cfg["allowed_clouds"]; ok {
			narrowed = nil
			for _, c := range asList(have) {
				if s := strings.ToLower(fmt.Sprint(c)); slices.Contains(clouds, s) {
					narrowed = append(narrowed, s)
				}
			}
			if len(narrowed) == 0 {
				return fmt.Sprintf("none of allowed_clouds %v is allowed; tasks may run only on %s", have, list)
			}
		}
		cfg["allowed_clouds"] = toAny(narrowed)
		return eachResources(task, func(res map[string]any) string {
			s, _ := res["infra"].(string)
			if s == "" {
				switch {
				case cloudsOnly:
					return "" // allowed_clouds keeps planning to the clouds listed
				case len(allowed) == 1:
					res["infra"] = allowed[0].String()
					return ""
				}
				return "the task names no infra; tasks may run only on " + list + ": set resources.infra (or --infra) to one of them"
			}
			inf, err := spec.ParseInfra(s)
			if err == nil && slices.ContainsFunc(allowed, func(a spec.Infra) bool { return covers(a, inf) }) {
				return ""
			}
			return fmt.Sprintf("infra %s is not allowed; tasks may run only on %s", s, list)
		})
	}, nil
}

// covers reports whether allowed infra a includes the infra a task names.
func covers(a, t spec.Infra) bool {
	return a.Cloud == t.Cloud && (a.Region == "" || a.Region == t.Region) && (a.Zone == "" || a.Zone == t.Zone) &&
		(a.Context == "" || a.Context == t.Context)
}

func asList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case nil:
		return nil
	}
	return []any{v}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
