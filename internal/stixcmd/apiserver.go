package stixcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/jobs"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/services"
	"github.com/stix-run/stix/internal/sqlitedb/filelock"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/upload"
)

// Environment variables that point the CLI at an API server: stix's, then SkyPilot's.
const (
	EnvEndpoint         = "STIX_API_SERVER_ENDPOINT"
	EnvSkyPilotEndpoint = "SKYPILOT_API_SERVER_ENDPOINT"
)

// loginFileName is the file under $STIX_HOME where `stix api login` records the endpoint and token (0600).
const loginFileName = "api_server.json"

type loginRecord struct {
	Endpoint string `json:"endpoint"`
	Token    string `json:"token,omitempty"`
}

// serverControl implements cli.ServerControl over package server.
type serverControl struct {
	getenv        func(string) string
	home          func() (string, error)
	catalogSource func() (catalog.Source, error)
}

var _ cli.ServerControl = serverControl{}

// endpoint returns the API server the CLI uses, its token, and where it was configured: STIX_API_SERVER_ENDPOINT,
// SKYPILOT_API_SERVER_ENDPOINT, `stix api login`, then api_server.endpoint in the user's config. "" means
// embedded.
func (s serverControl) endpoint() (endpoint, token, source string, err error) {
	for _, k := range []string{EnvEndpoint, EnvSkyPilotEndpoint} {
		if v := s.getenv(k); v != "" {
			return v, "", k, nil
		}
	}
	home, err := s.home()
	if err != nil {
		return "", "", "", err
	}
	if b, err := os.ReadFile(filepath.Join(home, loginFileName)); err == nil {
		var l loginRecord
		if err := json.Unmarshal(b, &l); err != nil {
			return "", "", "", fmt.Errorf("%s: %v: log in again with `stix api login -e URL`", filepath.Join(home, loginFileName), err)
		}
		return l.Endpoint, l.Token, "stix api login", nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", "", err
	}
	file, err := config.UserFile(config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv})
	if err != nil || file == "" {
		return "", "", "", err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", "", err
	}
	var c struct {
		APIServer struct {
			Endpoint string `yaml:"endpoint"`
			Token    string `yaml:"service_account_token"`
		} `yaml:"api_server"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return "", "", "", fmt.Errorf("%s: %v", file, err)
	}
	if c.APIServer.Endpoint == "" {
		return "", "", "", nil
	}
	return c.APIServer.Endpoint, c.APIServer.Token, "api_server.endpoint in " + file, nil
}

// Endpoint returns the endpoint without the basic-auth password it may carry: it is shown.
func (s serverControl) Endpoint() (string, string, error) {
	e, _, src, err := s.endpoint()
	return api.RedactEndpoint(e), src, err
}

// client returns the CLI's api.Client: HTTP when an endpoint is configured, else the embedded core.
func (s serverControl) client(embedded func() (api.Client, error)) func() (api.Client, error) {
	return func() (api.Client, error) {
		e, token, src, err := s.endpoint()
		if err != nil || e == "" {
			if err != nil {
				return nil, err
			}
			return embedded()
		}
		if t := s.envToken(); t != "" {
			token = t
		}
		return s.httpClient(e, token, src)
	}
}

// osUser is the caller's OS user name, sent to the API server as the user until it authenticates users.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func (s serverControl) dir() (string, error) {
	home, err := s.home()
	return filepath.Join(home, "server"), err
}

func (s serverControl) Run(ctx context.Context, o cli.ServerRun) error {
	home, err := s.home()
	if err != nil {
		return err
	}
	authCfg, err := s.authConfig()
	if err != nil {
		return err
	}
	gc, err := s.gcOptions()
	if err != nil {
		return err
	}
	dir := filepath.Join(home, "server")
	uploadDir := filepath.Join(dir, "uploads")
	uploads, resolve := uploadServer(uploadDir)
	c := embedded.New(embedded.Options{Core: cluster.Options{Home: home, CatalogSource: s.catalogSource},
		ResolveUpload: resolve, Remote: true})
	defer c.Close()
	state, err := c.StateLocation()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// The managed-jobs controller runs in the server: the client the server serves answers `jobs` through it.
	ctl, closeJobs, err := startJobs(ctx, c, state, dir, log)
	if err != nil {
		return err
	}
	defer closeJobs()
	// So does the serve controller: `serve` calls go to it, everything else to the managed-jobs client.
	svc, closeServe, err := startServe(c, state, dir, o.Host, log)
	if err != nil {
		return err
	}
	defer closeServe()
	// The uploads of unfinished managed jobs are read again at each recovery, and a live service's at each replica
	// launch: the GC keeps them.
	gc.UploadsInUse = uploadsInUse(ctl.UploadsInUse, svc.UploadsInUse)
	// Configured authentication, like --trusted-network, allows an address beyond loopback.
	return server.Run(ctx, server.RunOptions{Host: o.Host, Port: o.Port, TrustedNetwork: o.TrustedNetwork || authCfg.Required(),
		Options: server.Options{Dir: dir, State: state, Client: svc.Client(ctl.Client()), Version: Version, Commit: commit(), Uploads: uploads, UploadRoutes: upload.Routes,
			LogFile: o.LogFile, Log: log, Auth: authCfg,
			WorkspaceAccess: s.workspaceAccess, UploadDir: uploadDir, GC: gc, InfraStatus: c.InfraStatus, Config: s.serverConfig}})
}

// startJobs starts the managed-jobs controller over the core and the server's state; closeJobs stops it (its
// jobs stay as they are, for the next server) and closes its store.
func startJobs(ctx context.Context, core api.Client, state store.Location, dir string, log *slog.Logger) (*jobs.Controller, func(), error) {
	st, err := store.OpenAt(ctx, state)
	if err != nil {
		return nil, nil, err
	}
	ctl, err := jobs.New(jobs.Options{Core: core, State: st, Dir: dir, Log: log, DropUploads: dropUploads})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	ctl.Start()
	return ctl, func() { ctl.Close(); st.Close() }, nil
}

// startServe starts the serve controller over the core and the server's state; its load balancers listen on
// the server's host. closeServe stops it (services and their replicas stay, for the next server).
func startServe(core api.Client, state store.Location, dir, host string, log *slog.Logger) (*services.Controller, func(), error) {
	st, err := store.OpenAt(context.Background(), state)
	if err != nil {
		return nil, nil, err
	}
	ctl, err := services.New(services.Options{Core: core, State: st, Dir: dir, Host: host, Log: log, DropUploads: dropUploads})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	ctl.Start()
	return ctl, func() { ctl.Close(); st.Close() }, nil
}

func (s serverControl) Daemon(ctx context.Context, o cli.ServerRun) (cli.LocalServer, bool, error) {
	authCfg, err := s.authConfig()
	if err != nil {
		return cli.LocalServer{}, false, err
	}
	if err := server.CheckListen(o.Host, o.TrustedNetwork || authCfg.Required()); err != nil {
		return cli.LocalServer{}, false, err
	}
	dir, err := s.dir()
	if err != nil {
		return cli.LocalServer{}, false, err
	}
	// One start at a time over a directory: two commands racing (`stix jobs` starts the server on demand) would
	// each find none and start one; the second now finds the first's.
	unlock, err := filelock.Lock(ctx, filepath.Join(dir, "start.lock"))
	if err != nil {
		return cli.LocalServer{}, false, err
	}
	defer unlock()
	if l, ok := server.FindLocal(dir); ok {
		return cli.LocalServer(l), true, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return cli.LocalServer{}, false, err
	}
	args := []string{"api", "start", "--foreground", "--host", o.Host, "--port", strconv.Itoa(o.Port),
		"--log-file", filepath.Join(dir, server.LogFileName)}
	if o.TrustedNetwork {
		args = append(args, "--trusted-network")
	}
	l, err := server.Daemon(ctx, dir, exe, args, 30*time.Second)
	return cli.LocalServer(l), false, err
}

func (s serverControl) Stop() (cli.LocalServer, bool, error) {
	dir, err := s.dir()
	if err != nil {
		return cli.LocalServer{}, false, err
	}
	l, ok, err := server.StopLocal(dir, 30*time.Second)
	return cli.LocalServer(l), ok, err
}

func (s serverControl) Login(endpoint, token string) error {
	if _, err := api.NewHTTP(api.HTTPOptions{Endpoint: endpoint}); err != nil {
		return err
	}
	home, err := s.home()
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(loginRecord{Endpoint: endpoint, Token: token}, "", "  ")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(home, loginFileName), append(b, '\n'), 0o600)
}

func (s serverControl) Logout() (bool, error) {
	home, err := s.home()
	if err != nil {
		return false, err
	}
	err = os.Remove(filepath.Join(home, loginFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// commit is the VCS revision the binary was built from, when Go recorded it.
func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
