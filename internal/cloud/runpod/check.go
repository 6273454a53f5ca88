package runpod

import (
	"context"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// check takes RUNPOD_API_KEY, else ~/.runpod/config.toml: the `[default]` profile's api_key that
// `runpod config` writes, or the top-level apikey that `runpodctl config` writes.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	if e.Var(APIKeyEnv) != "" {
		return credcheck.Enabled("API key in RUNPOD_API_KEY")
	}
	path := e.HomeFile(".runpod", "config.toml")
	const fix = "run `runpod config` (pip install runpod) or `runpodctl config --apiKey KEY`, or set RUNPOD_API_KEY"
	data, ok, err := e.Read(path)
	switch {
	case err != nil:
		return credcheck.Disabled("%v", err)
	case !ok:
		return credcheck.Disabled("~/.runpod/config.toml does not exist: %s", fix)
	}
	f := credcheck.ParseINI(data)
	if f.Get("default", "api_key") != "" || f.Get("", "apikey") != "" || f.Get("", "api_key") != "" {
		return credcheck.Enabled("API key in ~/.runpod/config.toml")
	}
	return credcheck.Disabled("~/.runpod/config.toml has no API key (api_key in [default]): %s", fix)
}
