package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// azureProfile is the part of the Azure CLI's azureProfile.json the check reads.
type azureProfile struct {
	Subscriptions []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		IsDefault bool   `json:"isDefault"`
		User      struct {
			Name string `json:"name"`
		} `json:"user"`
	} `json:"subscriptions"`
}

// azureTokenCaches are the files in which the Azure CLI keeps a login (MSAL today, ADAL before), in order.
var azureTokenCaches = []string{"msal_token_cache.json", "msal_token_cache.bin", "service_principal_entries.json",
	"service_principal_entries.bin", "accessTokens.json"}

// check accepts a service principal from AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or
// federated token, or an `az login` (a subscription in azureProfile.json and a token cache beside it). A
// subscription is needed either way: AZURE_SUBSCRIPTION_ID or the CLI's default one.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	dir := e.Expand(e.Var("AZURE_CONFIG_DIR"))
	if dir == "" {
		dir = e.HomeFile(".azure")
	}
	var sub, subName, user string
	loggedIn := false
	if dir != "" {
		path := filepath.Join(dir, "azureProfile.json")
		data, ok, err := e.Read(path)
		if err != nil {
			return credcheck.Disabled("%v", err)
		}
		if ok {
			var p azureProfile
			// The CLI writes this file with a UTF-8 byte order mark.
			if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "\ufeff")), &p); err != nil {
				return credcheck.Disabled("%s is not valid JSON (%v): run `az login` to write it again", e.Show(path), err)
			}
			for i, s := range p.Subscriptions {
				if s.IsDefault || (i == 0 && sub == "") {
					sub, subName, user = s.ID, s.Name, s.User.Name
				}
			}
		}
		for _, name := range azureTokenCaches {
			if credcheck.Exists(filepath.Join(dir, name)) {
				loggedIn = true
				break
			}
		}
	}
	if s := e.Var("AZURE_SUBSCRIPTION_ID"); s != "" {
		sub, subName = s, ""
	}
	principal := e.Var("AZURE_CLIENT_ID") != "" && e.Var("AZURE_TENANT_ID") != "" &&
		(e.Var("AZURE_CLIENT_SECRET") != "" || e.Var("AZURE_CLIENT_CERTIFICATE_PATH") != "" ||
			e.Var("AZURE_FEDERATED_TOKEN_FILE") != "")
	switch {
	case !principal && !loggedIn:
		return credcheck.Disabled("no Azure login found in %s: run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and "+
			"AZURE_CLIENT_SECRET for a service principal", e.Show(dir))
	case sub == "":
		return credcheck.Disabled("no Azure subscription selected: run `az account set --subscription ID` or set " +
			"AZURE_SUBSCRIPTION_ID")
	}
	who := "az login"
	if principal {
		who = "service principal " + e.Var("AZURE_CLIENT_ID")
	} else if user != "" {
		who = "az login as " + user
	}
	if subName != "" {
		return credcheck.Enabled(fmt.Sprintf("subscription %s (%s); %s", subName, sub, who))
	}
	return credcheck.Enabled(fmt.Sprintf("subscription %s; %s", sub, who))
}
