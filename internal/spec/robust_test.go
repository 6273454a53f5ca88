package spec

import (
	"strings"
	"testing"
)

// TestHostileInputs are inputs that once could have crashed or hung a YAML loader; each must give errors or a
// pipeline, never a panic.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	inputs := map[string]string{
		"deep flow nesting":      strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		"deep block nesting":     deepBlock(2000),
		"self-referencing merge": "a: &a\n  <<: *a\n",
		"anchor inside itself":   "a: &a [*a]\n",
		"alias as key":           "a: &k x\n*k : 1\n",
		"mapping alias as key":   "a: &m {x: 1}\n? *m\n: 2\n",
		"merge of a scalar":      "<<: 5\nrun: x\n",
		"merge of a list":        "b: &b {run: x}\n<<: [*b, 3]\n",
		"nul bytes":              "run: \x00\x01\n",
		"invalid utf-8":          "run: \xff\xfe\n",
		"tabs":                   "\trun: x\n",
		"bom":                    "\ufeffrun: x\n",
		"huge key":               strings.Repeat("k", 100000) + ": 1\n",
		"many documents":         strings.Repeat("---\nrun: x\n", 2000),
		"null keys":              "~: 1\nnull: 2\n",
		"numeric env names":      "envs:\n  1: a\n  0x10: b\n",
		"nan and inf":            "num_nodes: .nan\nresources:\n  cpus: .inf\n  memory: -.inf\n  priority: .nan\n  ports: [.nan]\n",
		"huge integers":          "num_nodes: 99999999999999999999999\nresources:\n  disk_size: 99999999999999999999\n  priority: -99999999999999999999\n",
		"tagged values":          "num_nodes: !!int '3'\nrun: !!str 5\nsetup: !!float x\n",
		"binary tag":             "run: !!binary aGVsbG8=\n",
		"service odd shapes":     "service:\n  readiness_probe: {path: 5}\n  replica_policy: {min_replicas: -1, max_replicas: x}\n",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, _ := Load("x.yaml", []byte(in), LoadOptions{})
			if p == nil {
				t.Fatal("no pipeline")
			}
		})
	}
}

func deepBlock(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("k:\n")
	}
	return b.String()
}
