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

// login is what check finds of an Azure login: the subscription (AZURE_SUBSCRIPTION_ID, else the CLI's default
// one), whether a service principal is set in the environment, whether the CLI is logged in, and a problem when
// the files cannot be read.
type login struct {
	sub, subName, user string
	principal, cli     bool
	problem            string
}

func findLogin(e *credcheck.Env) login {
	var l login
	dir := e.Expand(e.Var("AZURE_CONFIG_DIR"))
	if dir == "" {
		dir = e.HomeFile(".azure")
	}
	if dir != "" {
		path := filepath.Join(dir, "azureProfile.json")
		data, ok, err := e.Read(path)
		if err != nil {
			l.problem = err.Error()
			return l
		}
		if ok {
			var p azureProfile
			// The CLI writes this file with a UTF-8 byte order mark.
			if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "\ufeff")), &p); err != nil {
				l.problem = fmt.Sprintf("%s is not valid JSON (%v): run `az login` to write it again", e.Show(path), err)
				return l
			}
			for i, s := range p.Subscriptions {
				if s.IsDefault || (i == 0 && l.sub == "") {
					l.sub, l.subName, l.user = s.ID, s.Name, s.User.Name
				}
			}
		}
		for _, name := range azureTokenCaches {
			if credcheck.Exists(filepath.Join(dir, name)) {
				l.cli = true
				break
			}
		}
	}
	if s := e.Var("AZURE_SUBSCRIPTION_ID"); s != "" {
		l.sub, l.subName = s, ""
	}
	l.principal = e.Var("AZURE_CLIENT_ID") != "" && e.Var("AZURE_TENANT_ID") != "" &&
		(e.Var("AZURE_CLIENT_SECRET") != "" || e.Var("AZURE_CLIENT_CERTIFICATE_PATH") != "" ||
			e.Var("AZURE_FEDERATED_TOKEN_FILE") != "")
	switch {
	case !l.principal && !l.cli:
		l.problem = fmt.Sprintf("no Azure login found in %s: run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and "+
			"AZURE_CLIENT_SECRET for a service principal", e.Show(dir))
	case l.sub == "":
		l.problem = "no Azure subscription selected: run `az account set --subscription ID` or set AZURE_SUBSCRIPTION_ID"
	}
	return l
}

// check accepts a service principal from AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or
// federated token, or an `az login` (a subscription in azureProfile.json and a token cache beside it). A
// subscription is needed either way: AZURE_SUBSCRIPTION_ID or the CLI's default one.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	l := findLogin(e)
	if l.problem != "" {
		return credcheck.Disabled("%s", l.problem)
	}
	who := "az login"
	if l.principal {
		who = "service principal " + e.Var("AZURE_CLIENT_ID")
	} else if l.user != "" {
		who = "az login as " + l.user
	}
	if l.subName != "" {
		return credcheck.Enabled(fmt.Sprintf("subscription %s (%s); %s", l.subName, l.sub, who))
	}
	return credcheck.Enabled(fmt.Sprintf("subscription %s; %s", l.sub, who))
}
