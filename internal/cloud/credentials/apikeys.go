package credentials

import (
	"context"
)

// checkLambda reads Lambda Cloud's key file, ~/.lambda_cloud/lambda_keys, which holds `api_key = KEY`.
func checkLambda(_ context.Context, e *env) Result {
	path := e.home(".lambda_cloud", "lambda_keys")
	const fix = "create an API key at https://cloud.lambdalabs.com/api-keys and put the line `api_key = YOUR_KEY` in " +
		"~/.lambda_cloud/lambda_keys"
	data, ok, err := e.read(path)
	switch {
	case err != nil:
		return disabled("%v", err)
	case !ok:
		return disabled("~/.lambda_cloud/lambda_keys does not exist: %s", fix)
	}
	if parseINI(data).get("", "api_key") == "" {
		return disabled("~/.lambda_cloud/lambda_keys has no api_key line: %s", fix)
	}
	return enabled("API key in ~/.lambda_cloud/lambda_keys")
}

// checkRunPod takes RUNPOD_API_KEY, else ~/.runpod/config.toml: the `[default]` profile's api_key that
// `runpod config` writes, or the top-level apikey that `runpodctl config` writes.
func checkRunPod(_ context.Context, e *env) Result {
	if e.getenv("RUNPOD_API_KEY") != "" {
		return enabled("API key in RUNPOD_API_KEY")
	}
	path := e.home(".runpod", "config.toml")
	const fix = "run `runpod config` (pip install runpod) or `runpodctl config --apiKey KEY`, or set RUNPOD_API_KEY"
	data, ok, err := e.read(path)
	switch {
	case err != nil:
		return disabled("%v", err)
	case !ok:
		return disabled("~/.runpod/config.toml does not exist: %s", fix)
	}
	f := parseINI(data)
	if f.get("default", "api_key") != "" || f.get("", "apikey") != "" || f.get("", "api_key") != "" {
		return enabled("API key in ~/.runpod/config.toml")
	}
	return disabled("~/.runpod/config.toml has no API key (api_key in [default]): %s", fix)
}
