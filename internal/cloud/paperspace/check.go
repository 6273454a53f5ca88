package paperspace

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// keyFix says how to give stix a Paperspace API key.
const keyFix = "create an API key at https://console.paperspace.com/settings/apikeys and put it in " +
	"~/.paperspace/config.json as {\"apiKey\": \"YOUR_KEY\"}, or set " + APIKeyEnv

// check takes PAPERSPACE_API_KEY, else the apiKey of ~/.paperspace/config.json (the file SkyPilot reads).
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	if e.Var(APIKeyEnv) != "" {
		return credcheck.Enabled("API key in " + APIKeyEnv)
	}
	data, ok, err := e.Read(e.HomeFile(".paperspace", "config.json"))
	switch {
	case err != nil:
		return credcheck.Disabled("%v", err)
	case !ok:
		return credcheck.Disabled("~/.paperspace/config.json does not exist: %s", keyFix)
	}
	if _, err := keyOfConfig(data); err != nil {
		return credcheck.Disabled("~/.paperspace/config.json: %v: %s", err, keyFix)
	}
	return credcheck.Enabled("API key in ~/.paperspace/config.json")
}

// keyOfConfig reads the apiKey of ~/.paperspace/config.json.
func keyOfConfig(data string) (string, error) {
	var cfg struct {
		APIKey string `json:"apiKey"`
	}
	if err := json.Unmarshal([]byte(data), &cfg); err != nil {
		return "", errNotJSON
	}
	if k := strings.TrimSpace(cfg.APIKey); k != "" {
		return k, nil
	}
	return "", errNoKey
}
