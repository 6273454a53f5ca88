// Package kubetest runs a real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler built from k8s.io/kubernetes, and kwok, which plays the kubelet of fake nodes (their capacity
// and labels are the test's; pods on them become Running, and exec runs the pod's command on this machine, in a
// work directory of the plane). scripts/k8s-plane.sh builds the binaries once into a cache; Start finds them
// there (or in $STIX_K8S_BIN). Without them the tests that need a plane are skipped, unless STIX_REQUIRE_K8S=1.
package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/kubeapi"
)

// Versions of the cached build (scripts/k8s-plane.sh names its directory after them).
const (
	K8sVersion  = "v1.37.2"
	EtcdVersion = "3.7.3"
	KwokVersion = "0.8.0"
)

// PodGPUs is what every pod's agent reports as its GPUs (STIX_FAKE_GPUS in kwok's environment, which its execs
// inherit): kwok cannot give each fake node's pods their own, so tests put GPU tasks on H100 nodes.
const PodGPUs = "H100:8"

// Token is the admin user's bearer token in the plane's kubeconfig.
const Token = "stixtoken"

// ReaderToken authenticates the user "reader", who has no permission until a test grants one (RBAC).
const ReaderToken = "stixreader"

// Plane is a running control plane.
type Plane struct {
	// Dir holds the plane's state; Kubeconfig is the file of its one context, Context.
	Dir        string
	Kubeconfig string
	Context    string
	// PodRoot is the directory kwok runs pods' exec in (the host's: every pod shares it).
	PodRoot string
	Client  *kubeapi.Client
	procs   []*exec.Cmd
	server  string
}

// BinDir returns the directory of the plane's binaries: $STIX_K8S_BIN, else the cache scripts/k8s-plane.sh fills.
func BinDir() string {
	if d := os.Getenv("STIX_K8S_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("STIX_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "stix")
	}
	return filepath.Join(cache, "k8s-"+K8sVersion+"-etcd-"+EtcdVersion+"-kwok-"+KwokVersion, "bin")
}

var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// ErrNoBinaries says the plane's binaries are not built.
var ErrNoBinaries = errors.New("kubetest: the control plane's binaries are not built: run scripts/k8s-plane.sh")

// Available reports whether the binaries are there.
func Available() bool {
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(BinDir(), b)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Main runs a package's tests (run: m.Run, or a wrapper of it) with a plane started for them all, handed to the
// tests through *shared. Without binaries the tests run with *shared nil (Require skips them), unless
// STIX_REQUIRE_K8S=1 makes that a failure. Call it from TestMain: os.Exit(kubetest.Main(m.Run, &plane)).
func Main(run func() int, shared **Plane) int {
	if !Available() {
		if os.Getenv("STIX_REQUIRE_K8S") == "1" {
			fmt.Fprintln(os.Stderr, ErrNoBinaries, "(STIX_REQUIRE_K8S=1 requires them); looked in", BinDir())
			return 1
		}
		return run()
	}
	p, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		return 1
	}
	*shared = p
	code := run()
	p.Stop()
	return code
}

// Require skips the test when there is no plane (see Main).
func Require(t testing.TB, p *Plane) *Plane {
	t.Helper()
	if p == nil {
		t.Skip("no Kubernetes control plane: build it with scripts/k8s-plane.sh (CI sets STIX_REQUIRE_K8S=1)")
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Start starts a plane in a new temporary directory and waits until pods can be created in "default".
func Start() (_ *Plane, err error) {
	if !Available() {
		return nil, ErrNoBinaries
	}
	dir, err := os.MkdirTemp("", "stix-k8s-")
	if err != nil {
		return nil, err
	}
	p := &Plane{Dir: dir, Context: "stix-test", PodRoot: filepath.Join(dir, "podroot")}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	for _, d := range []string{"certs", "podroot", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	if err := writeServiceAccountKey(dir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(Token+",admin,admin,system:masters\n"+ReaderToken+",reader,reader\n"), 0o600); err != nil {
		return nil, err
	}
	p.server = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	p.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(p.Kubeconfig, p.server, "default", p.Context); err != nil {
		return nil, err
	}
	bin := BinDir()
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peer := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	if err := p.spawn(filepath.Join(bin, "etcd"), "--name", "stix", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL, "--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer, "--initial-cluster", "stix="+peer, "--unsafe-no-fsync",
		"--listen-metrics-urls", ""); err != nil {
		return nil, err
	}
	certs := filepath.Join(dir, "certs")
	if err := p.spawn(filepath.Join(bin, "kube-apiserver"), "--etcd-servers="+etcdURL, "--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none", "--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+certs, "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"), "--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"), "--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16", "--service-node-port-range=30000-32767"); err != nil {
		return nil, err
	}
	kc, err := kubeapi.ParseKubeconfigFile(p.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if p.Client, err = kc.NewClient(p.Context); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := poll(ctx, "the API server to be ready", func() error { return p.Client.Get(ctx, "/readyz", nil) }); err != nil {
		return nil, p.withLogs(err)
	}
	if err := p.spawn(filepath.Join(bin, "kube-controller-manager"), "--kubeconfig="+p.Kubeconfig,
		"--authentication-kubeconfig="+p.Kubeconfig, "--authorization-kubeconfig="+p.Kubeconfig, "--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(kcmPort), "--service-account-private-key-file="+filepath.Join(dir, "sa.key"),
		"--root-ca-file="+filepath.Join(certs, "apiserver.crt"), "--use-service-account-credentials=false",
		"--leader-elect=false", "--controllers=*,-nodeipam"); err != nil {
		return nil, err
	}
	if err := p.spawn(filepath.Join(bin, "kube-scheduler"), "--kubeconfig="+p.Kubeconfig,
		"--authentication-kubeconfig="+p.Kubeconfig, "--authorization-kubeconfig="+p.Kubeconfig, "--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(schedPort), "--leader-elect=false"); err != nil {
		return nil, err
	}
	kwokCfg, err := p.writeKwokConfig()
	if err != nil {
		return nil, err
	}
	if err := p.spawnEnv([]string{"STIX_FAKE_GPUS=" + PodGPUs}, filepath.Join(bin, "kwok"), "-c", kwokCfg, "--kubeconfig="+p.Kubeconfig, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--node-ip=127.0.0.1", "--cidr=10.0.0.0/16",
		"--node-port="+strconv.Itoa(kwokPort), "--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
		"--tls-cert-file="+filepath.Join(certs, "apiserver.crt"), "--tls-private-key-file="+filepath.Join(certs, "apiserver.key")); err != nil {
		return nil, err
	}
	// Pods can be created once the default namespace's service account exists.
	if err := poll(ctx, "the default service account", func() error {
		return p.Client.Get(ctx, kubeapi.NSPath("default", "serviceaccounts", "default"), nil)
	}); err != nil {
		return nil, p.withLogs(err)
	}
	return p, nil
}

// WriteKubeconfig writes a kubeconfig with one context, name, for the plane's admin token.
func WriteKubeconfig(file, server, namespace, name string) error {
	return os.WriteFile(file, []byte(KubeconfigYAML(server, namespace, name, Token)), 0o600)
}

// KubeconfigYAML is a kubeconfig with one context, name, reaching server with token.
func KubeconfigYAML(server, namespace, name, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: %[1]s
clusters:
- name: %[1]s
  cluster: {server: %[2]q, insecure-skip-tls-verify: true}
users:
- name: %[1]s
  user: {token: %[4]q}
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: %[1]s, namespace: %[3]s}
`, name, server, namespace, token)
}

// Server is the API server's URL.
func (p *Plane) Server() string { return p.server }

func (p *Plane) writeKwokConfig() (string, error) {
	stageDir := filepath.Join(filepath.Dir(BinDir()), "stage")
	var docs []string
	for _, f := range []string{"node/fast/node-initialize.yaml", "node/heartbeat/node-heartbeat.yaml", "pod/fast/pod-ready.yaml",
		"pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"} {
		b, err := os.ReadFile(filepath.Join(stageDir, f))
		if err != nil {
			return "", fmt.Errorf("kwok stages (scripts/k8s-plane.sh copies them): %w", err)
		}
		docs = append(docs, strings.TrimSpace(string(b)))
	}
	docs = append(docs, fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata: {name: cluster-exec}
spec:
  execs:
  - local: {workDir: %q}`, p.PodRoot))
	file := filepath.Join(p.Dir, "kwok.yaml")
	return file, os.WriteFile(file, []byte(strings.Join(docs, "\n---\n")+"\n"), 0o644)
}

func writeServiceAccountKey(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

// spawn starts a component with its output in logs/<name>.log; it dies with the test process.
func (p *Plane) spawn(bin string, args ...string) error { return p.spawnEnv(nil, bin, args...) }

// spawnEnv is spawn with variables added to the component's environment.
func (p *Plane) spawnEnv(env []string, bin string, args ...string) error {
	name := filepath.Base(bin)
	log, err := os.Create(filepath.Join(p.Dir, "logs", name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if runtime.GOOS == "linux" {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p.procs = append(p.procs, cmd)
	return nil
}

// withLogs adds the tail of every component's log to err.
func (p *Plane) withLogs(err error) error {
	var b strings.Builder
	for _, c := range p.procs {
		name := filepath.Base(c.Path)
		data, _ := os.ReadFile(filepath.Join(p.Dir, "logs", name+".log"))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", name, strings.Join(lines, "\n"))
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// Stop kills the components (etcd last, so that the API server exits at once), then what the pods' execs left
// running (kwok runs them on this machine and deleting a pod ends none of them: agents, jobs), and removes the
// directory.
func (p *Plane) Stop() {
	for i := len(p.procs) - 1; i >= 0; i-- {
		c := p.procs[i]
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		c.Wait()
	}
	p.procs = nil
	killUnder(p.PodRoot)
	os.RemoveAll(p.Dir)
}

// killUnder SIGKILLs every process whose executable or working directory is under dir, repeating while it
// finds some (children forked meanwhile).
func killUnder(dir string) {
	if dir == "" {
		return
	}
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	for range 10 {
		found := false
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
			cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
			if strings.HasPrefix(exe, prefix) || strings.HasPrefix(cwd+string(filepath.Separator), prefix) {
				syscall.Kill(pid, syscall.SIGKILL)
				found = true
			}
		}
		if !found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func poll(ctx context.Context, what string, f func() error) error {
	var last error
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		if last = f(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(wait):
		}
	}
}
