package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// stix makes its Azure tokens itself rather than through azidentity: azidentity links the Microsoft
// Authentication Library, whose package initialisation alone costs about half a millisecond of every stix
// start-up (docs/azure.md). The two flows stix supports are small: a service principal's client secret
// (OAuth 2.0 client credentials at the Microsoft Entra token endpoint) and the Azure CLI's login
// (`az account get-access-token`). Both satisfy azcore.TokenCredential, which the ARM clients take.

// secretCredential is a service principal's client-secret flow.
type secretCredential struct {
	authority, tenant, clientID, secret string
	client                              *http.Client
}

// authError is a token the identity platform refused; classify makes it a *cloud.AuthError.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

func (c *secretCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret},
		"scope": {strings.Join(opts.Scopes, " ")}}
	endpoint := c.authority + url.PathEscape(c.tenant) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return azcore.AccessToken{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(req)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("get a token from %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		msg := fmt.Sprintf("service principal %s of tenant %s: the token endpoint answered %s", c.clientID, c.tenant, resp.Status)
		if out.Error != "" {
			msg += ": " + out.Error
		}
		if out.Description != "" {
			msg += ": " + firstLine(out.Description)
		}
		return azcore.AccessToken{}, &authError{msg}
	}
	return azcore.AccessToken{Token: out.AccessToken, ExpiresOn: time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}

// cliCredential is the Azure CLI's login.
type cliCredential struct{ subscription string }

func (c *cliCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	resource := "https://management.core.windows.net/"
	if len(opts.Scopes) > 0 {
		resource = strings.TrimSuffix(opts.Scopes[0], ".default")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	args := []string{"account", "get-access-token", "--output", "json", "--resource", resource}
	if c.subscription != "" {
		args = append(args, "--subscription", c.subscription)
	}
	cmd := exec.CommandContext(ctx, "az", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return azcore.AccessToken{}, &authError{"the Azure CLI (az) is not installed: install it and run `az login`, or set a service principal"}
	}
	if err != nil {
		return azcore.AccessToken{}, &authError{"az account get-access-token: " + vmFirst(firstLine(stderr.String()), err.Error()) + " (run `az login`)"}
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
		ExpiresOn   int64  `json:"expires_on"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.AccessToken == "" {
		return azcore.AccessToken{}, &authError{"az account get-access-token printed no token (run `az login`)"}
	}
	exp := time.Unix(tok.ExpiresOn, 0)
	if tok.ExpiresOn == 0 {
		exp = time.Now().Add(5 * time.Minute)
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: exp}, nil
}

func vmFirst(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
