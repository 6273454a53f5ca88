// Package kubeapi is stix's client of the Kubernetes API: kubeconfig loading (files, exec credential plugins,
// in-cluster service accounts), JSON REST calls, and the streaming calls (exec, port-forward) over WebSocket.
//
// It is hand-written over net/http rather than client-go: client-go's scheme registration (every API group's
// types, conversions and defaulters) runs at init in every process that links it, and stix's CLI links its
// providers; see docs/kubernetes.md for the figures. The API is a stable, versioned JSON API; the package's tests
// run against a real kube-apiserver (internal/testutil/kubetest).
package kubeapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"
)

// InClusterContext is the context name of the service account a pod runs as, when stix itself runs in a pod.
const InClusterContext = "in-cluster"

// Kubeconfig is the merged view of the kubeconfig files kubectl would read.
type Kubeconfig struct {
	// Files are the files read, in order; the first naming a context, cluster or user wins, as in kubectl.
	Files          []string
	CurrentContext string
	Contexts       map[string]Context
	Clusters       map[string]Cluster
	Users          map[string]User
	// order lists the contexts in file order.
	order []string
}

// Context is one kubeconfig context.
type Context struct {
	Cluster   string `yaml:"cluster"`
	User      string `yaml:"user"`
	Namespace string `yaml:"namespace"`
}

// Cluster is one kubeconfig cluster: where its API server is and how to trust it.
type Cluster struct {
	Server                   string `yaml:"server"`
	CertificateAuthority     string `yaml:"certificate-authority"`
	CertificateAuthorityData string `yaml:"certificate-authority-data"`
	InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
	TLSServerName            string `yaml:"tls-server-name"`
	ProxyURL                 string `yaml:"proxy-url"`
	dir                      string // the kubeconfig's directory: relative paths are relative to it
}

// User is one kubeconfig user: how to authenticate.
type User struct {
	Token                 string      `yaml:"token"`
	TokenFile             string      `yaml:"tokenFile"`
	ClientCertificate     string      `yaml:"client-certificate"`
	ClientCertificateData string      `yaml:"client-certificate-data"`
	ClientKey             string      `yaml:"client-key"`
	ClientKeyData         string      `yaml:"client-key-data"`
	Username              string      `yaml:"username"`
	Password              string      `yaml:"password"`
	Exec                  *ExecPlugin `yaml:"exec"`
	AuthProvider          *struct {
		Name string `yaml:"name"`
	} `yaml:"auth-provider"`
	dir string
}

// ExecPlugin is a client-go credential plugin (`users[].user.exec`): a command that prints an ExecCredential.
type ExecPlugin struct {
	APIVersion string   `yaml:"apiVersion"`
	Command    string   `yaml:"command"`
	Args       []string `yaml:"args"`
	Env        []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	dir string
}

type kubeconfigFile struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string  `yaml:"name"`
		Context Context `yaml:"context"`
	} `yaml:"contexts"`
	Clusters []struct {
		Name    string  `yaml:"name"`
		Cluster Cluster `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User User   `yaml:"user"`
	} `yaml:"users"`
}

// ErrNoKubeconfig says that no kubeconfig file exists and stix does not run in a pod.
var ErrNoKubeconfig = errors.New("no kubeconfig: set KUBECONFIG or create ~/.kube/config (e.g. with your cluster's `get-credentials` command)")

// KubeconfigPaths returns the files kubectl reads: KUBECONFIG's list, else ~/.kube/config.
func KubeconfigPaths(getenv func(string) string) []string {
	if v := getenv("KUBECONFIG"); v != "" {
		var out []string
		for _, p := range filepath.SplitList(v) {
			if p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return nil
	}
	return []string{filepath.Join(home, ".kube", "config")}
}

// LoadKubeconfig reads and merges the kubeconfig files of the environment (KubeconfigPaths); files that do not
// exist are skipped. When none exists and stix runs in a pod, the pod's service account is the one context,
// InClusterContext. A file that does not parse is an error naming it.
func LoadKubeconfig(getenv func(string) string) (*Kubeconfig, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	kc := &Kubeconfig{Contexts: map[string]Context{}, Clusters: map[string]Cluster{}, Users: map[string]User{}}
	for _, p := range KubeconfigPaths(getenv) {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig: %w", err)
		}
		if err := kc.merge(p, data); err != nil {
			return nil, err
		}
	}
	if len(kc.Files) == 0 {
		if ic, ok := inCluster(getenv); ok {
			return ic, nil
		}
		return nil, ErrNoKubeconfig
	}
	return kc, nil
}

// ParseKubeconfig reads one kubeconfig document (as if from the file named file, which relative paths in it are
// relative to).
func ParseKubeconfig(file string, data []byte) (*Kubeconfig, error) {
	kc := &Kubeconfig{Contexts: map[string]Context{}, Clusters: map[string]Cluster{}, Users: map[string]User{}}
	if err := kc.merge(file, data); err != nil {
		return nil, err
	}
	return kc, nil
}

func (kc *Kubeconfig) merge(file string, data []byte) error {
	var f kubeconfigFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("kubeconfig %s does not parse: %v (fix the file, or point KUBECONFIG at another)", file, err)
	}
	dir := filepath.Dir(file)
	kc.Files = append(kc.Files, file)
	if kc.CurrentContext == "" {
		kc.CurrentContext = f.CurrentContext
	}
	for _, c := range f.Contexts {
		if _, dup := kc.Contexts[c.Name]; c.Name == "" || dup {
			continue
		}
		kc.Contexts[c.Name] = c.Context
		kc.order = append(kc.order, c.Name)
	}
	for _, c := range f.Clusters {
		if _, dup := kc.Clusters[c.Name]; c.Name == "" || dup {
			continue
		}
		c.Cluster.dir = dir
		kc.Clusters[c.Name] = c.Cluster
	}
	for _, u := range f.Users {
		if _, dup := kc.Users[u.Name]; u.Name == "" || dup {
			continue
		}
		u.User.dir = dir
		if u.User.Exec != nil {
			u.User.Exec.dir = dir
		}
		kc.Users[u.Name] = u.User
	}
	return nil
}

// ContextNames lists the contexts in the order the files declare them.
func (kc *Kubeconfig) ContextNames() []string { return slices.Clone(kc.order) }

// Resolve returns the context name asked for, or the current context for "": an error when there is none or
// the name is unknown, naming the contexts there are.
func (kc *Kubeconfig) Resolve(name string) (string, Context, error) {
	if name == "" {
		name = kc.CurrentContext
	}
	if name == "" {
		return "", Context{}, fmt.Errorf("kubeconfig %s sets no current-context: name one (infra: k8s/<context>) or run `kubectl config use-context`", kc.where())
	}
	c, ok := kc.Contexts[name]
	if !ok {
		return "", Context{}, fmt.Errorf("kubeconfig %s has no context %q; it has: %v", kc.where(), name, kc.order)
	}
	return name, c, nil
}

func (kc *Kubeconfig) where() string {
	if len(kc.Files) == 1 {
		return kc.Files[0]
	}
	return fmt.Sprint(kc.Files)
}

// serviceAccountDir holds a pod's service account token, CA and namespace.
var serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func inCluster(getenv func(string) string) (*Kubeconfig, bool) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, false
	}
	if _, err := os.Stat(filepath.Join(serviceAccountDir, "token")); err != nil {
		return nil, false
	}
	ns, _ := os.ReadFile(filepath.Join(serviceAccountDir, "namespace"))
	kc := &Kubeconfig{
		CurrentContext: InClusterContext,
		Contexts:       map[string]Context{InClusterContext: {Cluster: InClusterContext, User: InClusterContext, Namespace: string(ns)}},
		Clusters: map[string]Cluster{InClusterContext: {Server: "https://" + joinHostPort(host, port),
			CertificateAuthority: filepath.Join(serviceAccountDir, "ca.crt")}},
		Users: map[string]User{InClusterContext: {TokenFile: filepath.Join(serviceAccountDir, "token")}},
		order: []string{InClusterContext},
	}
	return kc, true
}

func joinHostPort(host, port string) string {
	if slices.Contains([]byte(host), ':') {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// path resolves a file path of the kubeconfig relative to its directory.
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// fileOrData returns inline base64 data, else the file's contents.
func fileOrData(what, dir, file, data string) ([]byte, error) {
	if data != "" {
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, fmt.Errorf("%s-data is not base64: %v", what, err)
		}
		return b, nil
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(resolve(dir, file))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// ParseKubeconfigFile reads one kubeconfig file.
func ParseKubeconfigFile(file string) (*Kubeconfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	return ParseKubeconfig(file, data)
}
