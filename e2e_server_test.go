package stix_test

// The end-to-end scripts in server mode: each script runs against its own API server, a real
// `stix api start --foreground` process over the script's STIX_HOME, with STIX_API_SERVER_ENDPOINT set, so that
// every command goes through the HTTP client and the server.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// serverScripts are the scripts that run in both modes: launch, exec, logs (follow), cancel, queue, status,
// stop/start/down. Scripts that change the client's environment for the core (STIX_AGENT_TIMEOUT in hung, the
// test clock, STIX_FAKE_GPUS in queued) or kill the client (interrupted) describe embedded behaviour and stay
// embedded-only.
var serverScripts = []string{"lifecycle", "cancel", "concurrent", "secrets", "failures", "multinode", "endpoints"}

func TestScriptsServer(t *testing.T) {
	t.Parallel()
	var files []string
	for _, name := range serverScripts {
		files = append(files, filepath.Join("testdata/script", name+".txtar"))
	}
	files = append(files, "testdata/script-server/server.txtar", "testdata/script-server/uploads.txtar", "testdata/script-server/auth.txtar",
		"testdata/script-server/jobs.txtar", "testdata/script-server/serve_uploads.txtar",
		"testdata/script-server/storage_uploads.txtar")
	runScripts(t, "", files, true)
}

// scriptServer is the API server of one script.
type scriptServer struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startScriptServer starts the script's API server on a free loopback port and points the script at it. The
// server goes away with the script.
func startScriptServer(env *testscript.Env) error {
	s, err := launchServer(env.Vars, env.WorkDir)
	if err != nil {
		return err
	}
	env.Values["apiserver"] = s
	env.Setenv("STIX_API_SERVER_ENDPOINT", s.endpoint(env.Getenv("STIX_HOME")))
	env.Defer(func() { s.stop(syscall.SIGTERM) })
	return nil
}

// launchServer starts `stix api start --foreground --port 0` with the script's environment and waits until it
// has written its endpoint file.
func launchServer(vars []string, workDir string) (*scriptServer, error) {
	var home string
	for _, v := range vars {
		if h, ok := strings.CutPrefix(v, "STIX_HOME="); ok {
			home = h
		}
	}
	log, err := os.OpenFile(filepath.Join(workDir, "apiserver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	// A stale endpoint file (a server killed with -9 leaves it) must not be taken for the new server's.
	os.Remove(filepath.Join(home, "server", "endpoint"))
	cmd := exec.Command(filepath.Join(binDir, "stix"), "api", "start", "--foreground", "--port", "0")
	cmd.Env = append(os.Environ(), vars...)
	cmd.Env = append(cmd.Env, "STIX_API_SERVER_ENDPOINT=") // the server itself runs the embedded core
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &scriptServer{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	err = pollFunc(fmt.Sprintf("the API server (pid %d) to write its endpoint", cmd.Process.Pid), func() (bool, error) {
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(workDir, "apiserver.log"))
			return false, fmt.Errorf("the API server exited: %s", b)
		default:
		}
		_, err := os.Stat(filepath.Join(home, "server", "endpoint"))
		return err == nil, err
	})
	if err != nil {
		s.stop(syscall.SIGKILL)
		return nil, err
	}
	return s, nil
}

func (s *scriptServer) endpoint(home string) string {
	b, _ := os.ReadFile(filepath.Join(home, "server", "endpoint"))
	return strings.TrimSpace(string(b))
}

// stop signals the server and waits for it to exit.
func (s *scriptServer) stop(sig syscall.Signal) {
	_ = s.cmd.Process.Signal(sig)
	<-s.done
}

// apiserver kill9 | start | restart: kill the script's API server with SIGKILL (requests in flight are left as
// they were), start a new one over the same STIX_HOME (the endpoint changes; STIX_API_SERVER_ENDPOINT follows),
// or stop it (SIGTERM) and start a new one: one that sees what the script set since, such as the `minio`
// command's AWS variables.
func apiServerCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: apiserver kill9|start|restart")
	}
	current := func() *scriptServer {
		s, ok := ts.Value("apiserver").(*scriptServer)
		if !ok {
			ts.Fatalf("apiserver %s: the script has no API server (it runs in server mode only)", args[0])
		}
		return s
	}
	switch args[0] {
	case "kill9":
		current().stop(syscall.SIGKILL)
	case "start", "restart":
		if args[0] == "restart" {
			current().stop(syscall.SIGTERM)
		}
		var vars []string
		for _, k := range []string{"PATH", "HOME", "STIX_HOME", "STIX_AGENT_BIN", "STIX_AGENT_TIMEOUT", "STIX_CATALOG_DIR", "STIX_CATALOG_URL", "NO_COLOR", "TMPDIR",
			"AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			vars = append(vars, k+"="+ts.Getenv(k))
		}
		s, err := launchServer(vars, ts.Getenv("WORK"))
		ts.Check(err)
		ts.Defer(func() { s.stop(syscall.SIGTERM) })
		ts.Setenv("STIX_API_SERVER_ENDPOINT", s.endpoint(ts.Getenv("STIX_HOME")))
	default:
		ts.Fatalf("usage: apiserver kill9|start|restart")
	}
}

// setenvfile VAR FILE sets VAR to FILE's contents, trimmed (FILE may be stdout): a request ID printed by --async.
func setEnvFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setenvfile VAR FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}
