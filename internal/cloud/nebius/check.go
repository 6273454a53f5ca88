package nebius

import (
	"context"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// check finds credentials offline, in SkyPilot's order: $NEBIUS_IAM_TOKEN, ~/.nebius/NEBIUS_IAM_TOKEN.txt, the
// service account key of ~/.nebius/credentials.json; with them, the tenant id (~/.nebius/NEBIUS_TENANT_ID.txt),
// which finds each region's project (unless stix's config names the projects: then it is not needed).
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	var how string
	switch {
	case e.Var(TokenEnv) != "":
		how = "IAM token in " + TokenEnv
	default:
		token, ok, err := e.Read(e.HomeFile(".nebius", tokenFile))
		if err != nil {
			return credcheck.Disabled("%v", err)
		}
		if ok && trimmed(token) != "" {
			how = "IAM token in " + e.Show(e.HomeFile(".nebius", tokenFile))
			break
		}
		data, ok, err := e.Read(e.HomeFile(".nebius", credsFile))
		switch {
		case err != nil:
			return credcheck.Disabled("%v", err)
		case !ok:
			return credcheck.Disabled("no Nebius credentials: %s", credsFix)
		}
		if _, err := parseCredentials([]byte(data)); err != nil {
			return credcheck.Disabled("%v: %s", err, credsFix)
		}
		how = "service account key in " + e.Show(e.HomeFile(".nebius", credsFile))
	}
	tenant, _, err := e.Read(e.HomeFile(".nebius", tenantFile))
	if err != nil {
		return credcheck.Disabled("%v", err)
	}
	if trimmed(tenant) == "" {
		return credcheck.Enabled(how + "; no tenant id (~/.nebius/NEBIUS_TENANT_ID.txt): set nebius.region_configs.REGION.project_id in stix's config")
	}
	return credcheck.Enabled(how + ", tenant " + trimmed(tenant))
}
