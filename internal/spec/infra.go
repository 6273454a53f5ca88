package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Clouds lists the infra names stix knows: SkyPilot's clouds plus stix's own docker and local providers.
var Clouds = []string{
	"aws", "azure", "cudo", "do", "docker", "fluidstack", "gcp", "hyperbolic", "ibm", "kubernetes", "lambda",
	"local", "nebius", "oci", "paperspace", "primeintellect", "runpod", "scp", "seeweb", "shadeform", "slurm",
	"ssh", "vast", "vsphere", "yotta",
}

// contextClouds take a context (Kubernetes), node pool (ssh) or cluster (Slurm) name after the first slash,
// which may itself contain slashes, instead of region/zone.
var contextClouds = []string{"kubernetes", "ssh", "slurm"}

// bareClouds take nothing after their name.
var bareClouds = []string{"docker", "local"}

// Infra is where a task may run. Empty fields mean "any".
type Infra struct {
	Cloud   string `json:"cloud,omitempty"`   // lower case, one of Clouds; "" = any
	Region  string `json:"region,omitempty"`  // clouds with regions
	Zone    string `json:"zone,omitempty"`    // clouds with zones
	Context string `json:"context,omitempty"` // Kubernetes context, ssh node pool or Slurm cluster
}

// IsZero reports whether no infra is set.
func (i Infra) IsZero() bool { return i == Infra{} }

// String renders the infra in `infra:` form: "aws/us-east-1", "k8s/my-ctx" ("kubernetes/..."), "*/us-east-1".
func (i Infra) String() string {
	if i.IsZero() {
		return ""
	}
	cloud := i.Cloud
	if cloud == "" {
		cloud = "*"
	}
	if i.Context != "" {
		return cloud + "/" + i.Context
	}
	parts := []string{cloud, i.Region, i.Zone}
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	for j := range parts {
		if parts[j] == "" {
			parts[j] = "*"
		}
	}
	return strings.Join(parts, "/")
}

// MarshalText encodes the infra as its string form.
func (i Infra) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// ParseInfra parses an `infra:` value (or --infra): "aws", "aws/us-east-1", "aws/us-east-1/us-east-1a",
// "*/us-east-1", "k8s" or "kubernetes", "k8s/<context, may hold slashes>", "ssh/<pool>", "slurm/<cluster>",
// "docker", "local". Cloud names are case-insensitive; "*" means any.
func ParseInfra(s string) (Infra, error) {
	t := strings.Trim(strings.TrimSpace(s), "/")
	if t == "" {
		return Infra{}, fmt.Errorf("infra is empty; expected e.g. \"aws\", \"aws/us-east-1\" or \"k8s\"")
	}
	parts := strings.Split(t, "/")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if parts[i] == "" {
			return Infra{}, fmt.Errorf("invalid infra %q: empty part (double slash)", s)
		}
	}
	cloud, err := canonicalCloud(parts[0])
	if err != nil {
		return Infra{}, err
	}
	inf := Infra{Cloud: cloud}
	rest := parts[1:]
	switch {
	case slices.Contains(contextClouds, cloud):
		inf.Context = strings.Join(rest, "/")
	case slices.Contains(bareClouds, cloud):
		if len(rest) > 0 {
			return Infra{}, fmt.Errorf("invalid infra %q: %s takes no region or zone", s, cloud)
		}
	default:
		if len(rest) > 2 {
			return Infra{}, fmt.Errorf("invalid infra %q: expected \"cloud\", \"cloud/region\" or \"cloud/region/zone\"", s)
		}
		if len(rest) > 0 && rest[0] != "*" {
			inf.Region = rest[0]
		}
		if len(rest) > 1 && rest[1] != "*" {
			inf.Zone = rest[1]
		}
	}
	return inf, nil
}

// canonicalCloud lower-cases a cloud name, maps k8s to kubernetes and "*" to any, and rejects unknown names.
func canonicalCloud(name string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(name))
	switch c {
	case "*":
		return "", nil
	case "k8s":
		return "kubernetes", nil
	}
	if slices.Contains(Clouds, c) {
		return c, nil
	}
	return "", &hintError{
		msg:  fmt.Sprintf("unknown cloud %q; expected one of %s", name, strings.Join(Clouds, ", ")),
		hint: didYouMean(c, slices.Concat(Clouds, []string{"k8s"})),
	}
}
