package do

import (
	"context"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// TokenEnv holds the API token (doctl's variable); doctl's config.yaml is read when it is empty.
const TokenEnv = "DIGITALOCEAN_ACCESS_TOKEN"

// configPaths are where doctl keeps config.yaml (the files SkyPilot reads): $XDG_CONFIG_HOME/doctl (default
// ~/.config/doctl) on Linux, ~/Library/Application Support/doctl on macOS. home is ~, xdg $XDG_CONFIG_HOME.
func configPaths(home, xdg string) []string {
	if home == "" {
		return nil
	}
	if xdg == "" {
		xdg = filepath.Join(home, ".config")
	}
	return []string{filepath.Join(xdg, "doctl", "config.yaml"),
		filepath.Join(home, "Library", "Application Support", "doctl", "config.yaml")}
}

// configToken is the token in doctl's config.yaml: that of the current `context` when it names one of
// `auth-contexts`, else `access-token` (the default context's), else the only one of `auth-contexts`.
func configToken(data string) string {
	var cfg struct {
		AccessToken  string            `yaml:"access-token"`
		Context      string            `yaml:"context"`
		AuthContexts map[string]string `yaml:"auth-contexts"`
	}
	if yaml.Unmarshal([]byte(data), &cfg) != nil {
		return ""
	}
	if t := strings.TrimSpace(cfg.AuthContexts[cfg.Context]); cfg.Context != "" && cfg.Context != "default" && t != "" {
		return t
	}
	if t := strings.TrimSpace(cfg.AccessToken); t != "" {
		return t
	}
	if len(cfg.AuthContexts) == 1 {
		for _, t := range cfg.AuthContexts {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// tokenFix says how to give stix a token.
const tokenFix = "create a personal access token (read and write) at https://cloud.digitalocean.com/account/api/tokens " +
	"and run `doctl auth init`, or set " + TokenEnv

// check takes DIGITALOCEAN_ACCESS_TOKEN, else the token of doctl's config.yaml, offline.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	if e.Var(TokenEnv) != "" {
		return credcheck.Enabled("API token in " + TokenEnv)
	}
	var found []string
	for _, path := range configPaths(e.Home, e.Var("XDG_CONFIG_HOME")) {
		data, ok, err := e.Read(path)
		switch {
		case err != nil:
			return credcheck.Disabled("%v", err)
		case !ok:
			continue
		case configToken(data) != "":
			return credcheck.Enabled("API token in " + e.Show(path))
		}
		found = append(found, e.Show(path))
	}
	if len(found) > 0 {
		return credcheck.Disabled("%s has no access-token: %s", strings.Join(found, ", "), tokenFix)
	}
	return credcheck.Disabled("no doctl config (~/.config/doctl/config.yaml): %s", tokenFix)
}
