package lambda

import (
	"context"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// check takes LAMBDA_API_KEY, else Lambda Cloud's key file, ~/.lambda_cloud/lambda_keys, which holds
// `api_key = KEY` (the file SkyPilot reads).
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	if e.Var(APIKeyEnv) != "" {
		return credcheck.Enabled("API key in " + APIKeyEnv)
	}
	path := e.HomeFile(".lambda_cloud", "lambda_keys")
	const fix = "create an API key at https://cloud.lambdalabs.com/api-keys and put the line `api_key = YOUR_KEY` in " +
		"~/.lambda_cloud/lambda_keys, or set LAMBDA_API_KEY"
	data, ok, err := e.Read(path)
	switch {
	case err != nil:
		return credcheck.Disabled("%v", err)
	case !ok:
		return credcheck.Disabled("~/.lambda_cloud/lambda_keys does not exist: %s", fix)
	}
	if credcheck.ParseINI(data).Get("", "api_key") == "" {
		return credcheck.Disabled("~/.lambda_cloud/lambda_keys has no api_key line: %s", fix)
	}
	return credcheck.Enabled("API key in ~/.lambda_cloud/lambda_keys")
}
