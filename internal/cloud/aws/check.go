package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// awsFix is what to do when no AWS credentials are found.
const awsFix = "run `aws configure` (or `aws configure sso`), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"

// check follows the AWS SDKs' default chain as far as it goes without the network: environment keys, web
// identity, container credentials, then the selected profile (AWS_PROFILE, else "default") in the shared
// credentials and config files. An EC2 instance role is not detected: that needs the metadata service.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	keyID, secret := e.Var("AWS_ACCESS_KEY_ID"), e.Var("AWS_SECRET_ACCESS_KEY")
	switch {
	case keyID != "" && secret != "":
		return credcheck.Enabled("environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case e.Var("AWS_WEB_IDENTITY_TOKEN_FILE") != "" && e.Var("AWS_ROLE_ARN") != "":
		return credcheck.Enabled("web identity role " + e.Var("AWS_ROLE_ARN"))
	case e.Var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" || e.Var("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "":
		return credcheck.Enabled("container credentials (AWS_CONTAINER_CREDENTIALS_*)")
	}
	var notes []string
	if (keyID == "") != (secret == "") {
		notes = append(notes, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set")
	}

	credsPath := e.Expand(e.Var("AWS_SHARED_CREDENTIALS_FILE"))
	if credsPath == "" {
		credsPath = e.HomeFile(".aws", "credentials")
	}
	configPath := e.Expand(e.Var("AWS_CONFIG_FILE"))
	if configPath == "" {
		configPath = e.HomeFile(".aws", "config")
	}
	a := awsFiles{e: e, credsPath: credsPath, configPath: configPath}
	for _, f := range []struct {
		path string
		dst  **credcheck.INI
	}{{credsPath, &a.creds}, {configPath, &a.config}} {
		data, ok, err := e.Read(f.path)
		if err != nil {
			return credcheck.Disabled("%v", err)
		}
		if ok {
			*f.dst = credcheck.ParseINI(data)
		}
	}

	profile, explicit := e.Var("AWS_PROFILE"), true
	if profile == "" {
		profile = e.Var("AWS_DEFAULT_PROFILE")
	}
	if profile == "" {
		profile, explicit = "default", false
	}
	if how := a.usable(profile, 0); how != "" {
		return credcheck.Enabled(fmt.Sprintf("profile %s: %s", profile, how))
	}
	files := e.Show(credsPath) + " or " + e.Show(configPath)
	switch {
	case explicit && !a.exists(profile):
		return credcheck.Disabled("AWS_PROFILE selects profile %q, which is not in %s: run `aws configure --profile %s`",
			profile, files, profile)
	case a.exists(profile):
		notes = append(notes, fmt.Sprintf("profile %q in %s has no access keys, SSO, role or credential_process",
			profile, files))
	}
	if len(notes) > 0 {
		return credcheck.Disabled("no AWS credentials (%s): %s", strings.Join(notes, "; "), awsFix)
	}
	return credcheck.Disabled("no AWS credentials found in the environment or %s: %s", files, awsFix)
}

// awsFiles are the shared credentials and config files, either of which may be absent (nil).
type awsFiles struct {
	e                     *credcheck.Env
	creds, config         *credcheck.INI
	credsPath, configPath string
}

// configSection is a profile's section name in the config file: "default", else "profile NAME".
func configSection(profile string) string {
	if profile == "default" {
		return profile
	}
	return "profile " + profile
}

// get returns a profile's key, the credentials file winning over the config file as in the SDKs.
func (a awsFiles) get(profile, key string) (string, string) {
	if a.creds != nil {
		if v := a.creds.Get(profile, key); v != "" {
			return v, a.credsPath
		}
	}
	if a.config != nil {
		if v := a.config.Get(configSection(profile), key); v != "" {
			return v, a.configPath
		}
		// The SDKs also accept "[profile default]".
		if profile == "default" {
			if v := a.config.Get("profile default", key); v != "" {
				return v, a.configPath
			}
		}
	}
	return "", ""
}

func (a awsFiles) exists(profile string) bool {
	return (a.creds != nil && a.creds.Has(profile)) ||
		(a.config != nil && (a.config.Has(configSection(profile)) || (profile == "default" && a.config.Has("profile default"))))
}

// usable says how a profile yields credentials, or "" when it does not. Roles chain through source_profile,
// at most a few hops deep (a cycle is not usable).
func (a awsFiles) usable(profile string, depth int) string {
	if depth > 4 {
		return ""
	}
	if id, where := a.get(profile, "aws_access_key_id"); id != "" {
		if secret, _ := a.get(profile, "aws_secret_access_key"); secret != "" {
			return "access keys in " + a.e.Show(where)
		}
	}
	if v, where := a.get(profile, "credential_process"); v != "" {
		return "credential_process in " + a.e.Show(where)
	}
	if v, where := a.get(profile, "sso_session"); v != "" {
		return fmt.Sprintf("AWS SSO session %s in %s (run `aws sso login` when it expires)", v, a.e.Show(where))
	}
	if v, where := a.get(profile, "sso_start_url"); v != "" {
		return fmt.Sprintf("AWS SSO at %s in %s (run `aws sso login` when it expires)", v, a.e.Show(where))
	}
	role, _ := a.get(profile, "role_arn")
	if role == "" {
		return ""
	}
	if v, _ := a.get(profile, "web_identity_token_file"); v != "" {
		return "web identity role " + role
	}
	if v, _ := a.get(profile, "credential_source"); v != "" {
		return fmt.Sprintf("role %s with credentials from %s", role, v)
	}
	if src, _ := a.get(profile, "source_profile"); src != "" {
		if src == profile {
			// A profile may name itself when it holds the keys the role is assumed with.
			if id, _ := a.get(src, "aws_access_key_id"); id != "" {
				return fmt.Sprintf("role %s assumed with the profile's own keys", role)
			}
			return ""
		}
		if how := a.usable(src, depth+1); how != "" {
			return fmt.Sprintf("role %s assumed from profile %s", role, src)
		}
	}
	return ""
}
