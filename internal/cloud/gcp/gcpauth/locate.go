package gcpauth

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// Found is what Locate finds: the credentials file, what it holds, the project, and the account.
type Found struct {
	KeyPath string
	Key     Key
	Project string
	Who     string
}

// Locate looks for Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, else gcloud's
// application_default_credentials.json) and a project (GOOGLE_CLOUD_PROJECT / CLOUDSDK_CORE_PROJECT, the active
// gcloud configuration, or the credentials file). stix needs both, as SkyPilot does. problem says what is missing or
// wrong (and what to do), "" when both are found.
func Locate(e *credcheck.Env) (f Found, problem string) {
	gcloudDir := e.Expand(e.Var("CLOUDSDK_CONFIG"))
	if gcloudDir == "" {
		gcloudDir = e.HomeFile(".config", "gcloud")
	}
	var keyPath string
	var key Key
	if p := e.Var("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		keyPath = e.Expand(p)
		data, ok, err := e.Read(keyPath)
		switch {
		case err != nil:
			return Found{}, fmt.Sprintf("GOOGLE_APPLICATION_CREDENTIALS: %v", err)
		case !ok:
			return Found{}, fmt.Sprintf("GOOGLE_APPLICATION_CREDENTIALS names %s, which does not exist: point it at a "+
				"service-account key file, or unset it and run `gcloud auth application-default login`", e.Show(keyPath))
		}
		if err := json.Unmarshal([]byte(data), &key); err != nil || key.Type == "" {
			return Found{}, fmt.Sprintf("GOOGLE_APPLICATION_CREDENTIALS names %s, which is not a Google credentials JSON file "+
				"(no \"type\" field)", e.Show(keyPath))
		}
	} else if gcloudDir != "" {
		keyPath = filepath.Join(gcloudDir, "application_default_credentials.json")
		data, ok, err := e.Read(keyPath)
		switch {
		case err != nil:
			return Found{}, fmt.Sprintf("%v", err)
		case !ok:
			keyPath = ""
		default:
			if err := json.Unmarshal([]byte(data), &key); err != nil || key.Type == "" {
				return Found{}, fmt.Sprintf("%s is not a Google credentials JSON file: run `gcloud auth application-default login` "+
					"to write it again", e.Show(keyPath))
			}
		}
	}

	// The active gcloud configuration names the project and account `gcloud` uses.
	var conf *credcheck.INI
	if gcloudDir != "" {
		name := e.Var("CLOUDSDK_ACTIVE_CONFIG_NAME")
		if name == "" {
			if data, ok, _ := e.Read(filepath.Join(gcloudDir, "active_config")); ok {
				name = strings.TrimSpace(data)
			}
		}
		if name == "" {
			name = "default"
		}
		if data, ok, _ := e.Read(filepath.Join(gcloudDir, "configurations", "config_"+name)); ok {
			conf = credcheck.ParseINI(data)
		}
	}
	project := firstNonEmpty(e.Var("GOOGLE_CLOUD_PROJECT"), e.Var("CLOUDSDK_CORE_PROJECT"))
	if project == "" && conf != nil {
		project = conf.Get("core", "project")
	}
	project = firstNonEmpty(project, key.ProjectID, key.QuotaProjectID)

	if keyPath == "" {
		return Found{}, fmt.Sprintf("no GCP credentials: run `gcloud auth application-default login`, or set " +
			"GOOGLE_APPLICATION_CREDENTIALS to a service-account key file")
	}
	if project == "" {
		return Found{}, fmt.Sprintf("GCP credentials found in %s, but no project is set: run `gcloud config set project "+
			"PROJECT_ID` or set GOOGLE_CLOUD_PROJECT", e.Show(keyPath))
	}
	who := key.ClientEmail
	if who == "" && conf != nil {
		who = conf.Get("core", "account")
	}
	return Found{KeyPath: keyPath, Key: key, Project: project, Who: who}, ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
