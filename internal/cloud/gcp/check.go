package gcp

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/gcp/gcpauth"
)

// check looks for Application Default Credentials and a project by gcpauth.Locate's rules.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	f, problem := gcpauth.Locate(e)
	if problem != "" {
		return credcheck.Disabled("%s", problem)
	}
	detail := fmt.Sprintf("project %s; %s credentials in %s", f.Project, strings.ReplaceAll(f.Key.Type, "_", " "), e.Show(f.KeyPath))
	if f.Who != "" {
		detail += " (" + f.Who + ")"
	}
	return credcheck.Enabled(detail)
}
