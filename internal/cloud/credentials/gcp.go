package credentials

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// gcpKey is what the checks read from a credentials JSON file (service-account key, ADC user credentials,
// external account).
type gcpKey struct {
	Type           string `json:"type"`
	ProjectID      string `json:"project_id"`
	QuotaProjectID string `json:"quota_project_id"`
	ClientEmail    string `json:"client_email"`
}

// checkGCP looks for Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, else gcloud's
// application_default_credentials.json) and a project (GOOGLE_CLOUD_PROJECT / CLOUDSDK_CORE_PROJECT, the active
// gcloud configuration, or the credentials file). stix needs both, as SkyPilot does.
func checkGCP(_ context.Context, e *env) Result {
	gcloudDir := e.expand(e.getenv("CLOUDSDK_CONFIG"))
	if gcloudDir == "" {
		gcloudDir = e.home(".config", "gcloud")
	}
	var keyPath string
	var key gcpKey
	if p := e.getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		keyPath = e.expand(p)
		data, ok, err := e.read(keyPath)
		switch {
		case err != nil:
			return disabled("GOOGLE_APPLICATION_CREDENTIALS: %v", err)
		case !ok:
			return disabled("GOOGLE_APPLICATION_CREDENTIALS names %s, which does not exist: point it at a "+
				"service-account key file, or unset it and run `gcloud auth application-default login`", e.show(keyPath))
		}
		if err := json.Unmarshal([]byte(data), &key); err != nil || key.Type == "" {
			return disabled("GOOGLE_APPLICATION_CREDENTIALS names %s, which is not a Google credentials JSON file "+
				"(no \"type\" field)", e.show(keyPath))
		}
	} else if gcloudDir != "" {
		keyPath = filepath.Join(gcloudDir, "application_default_credentials.json")
		data, ok, err := e.read(keyPath)
		switch {
		case err != nil:
			return disabled("%v", err)
		case !ok:
			keyPath = ""
		default:
			if err := json.Unmarshal([]byte(data), &key); err != nil || key.Type == "" {
				return disabled("%s is not a Google credentials JSON file: run `gcloud auth application-default login` "+
					"to write it again", e.show(keyPath))
			}
		}
	}

	// The active gcloud configuration names the project and account `gcloud` uses.
	var conf *iniFile
	if gcloudDir != "" {
		name := e.getenv("CLOUDSDK_ACTIVE_CONFIG_NAME")
		if name == "" {
			if data, ok, _ := e.read(filepath.Join(gcloudDir, "active_config")); ok {
				name = strings.TrimSpace(data)
			}
		}
		if name == "" {
			name = "default"
		}
		if data, ok, _ := e.read(filepath.Join(gcloudDir, "configurations", "config_"+name)); ok {
			conf = parseINI(data)
		}
	}
	project := firstNonEmpty(e.getenv("GOOGLE_CLOUD_PROJECT"), e.getenv("CLOUDSDK_CORE_PROJECT"))
	if project == "" && conf != nil {
		project = conf.get("core", "project")
	}
	project = firstNonEmpty(project, key.ProjectID, key.QuotaProjectID)

	if keyPath == "" {
		return disabled("no GCP credentials: run `gcloud auth application-default login`, or set " +
			"GOOGLE_APPLICATION_CREDENTIALS to a service-account key file")
	}
	if project == "" {
		return disabled("GCP credentials found in %s, but no project is set: run `gcloud config set project "+
			"PROJECT_ID` or set GOOGLE_CLOUD_PROJECT", e.show(keyPath))
	}
	who := key.ClientEmail
	if who == "" && conf != nil {
		who = conf.get("core", "account")
	}
	detail := fmt.Sprintf("project %s; %s credentials in %s", project, strings.ReplaceAll(key.Type, "_", " "), e.show(keyPath))
	if who != "" {
		detail += " (" + who + ")"
	}
	return enabled(detail)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
