package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
)

// The environment variables the AWS SDKs read for an endpoint, and stix with them.
const (
	EndpointS3Env      = "AWS_ENDPOINT_URL_S3"
	EndpointEnv        = "AWS_ENDPOINT_URL"
	IgnoreEndpointsEnv = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
)

// R2 is reached at https://<account id>.r2.cloudflarestorage.com with the r2 profile of its own credentials
// file, as SkyPilot sets it up (`AWS_SHARED_CREDENTIALS_FILE=~/.cloudflare/r2.credentials aws configure --profile
// r2`, and the account id alone in ~/.cloudflare/accountid).
const (
	R2Profile      = "r2"
	r2Domain       = "r2.cloudflarestorage.com"
	r2CredsFile    = "r2.credentials"
	r2AccountFile  = "accountid"
	cloudflareDir  = ".cloudflare"
	defaultProfile = "default"
)

// FromEnv returns the configuration of an S3 (or S3-compatible) client by the AWS SDKs' rules, as far as they go
// without the network: the endpoint from AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else ep (stix's config),
// else AWS; the region from ep, else AWS_REGION / AWS_DEFAULT_REGION, else the profile's, else us-east-1; and
// credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the profile (AWS_PROFILE,
// else default) in the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) or the
// config file (AWS_CONFIG_FILE, else ~/.aws/config). Roles, SSO and instance credentials need the SDK: the CLI may
// set Config.Credentials to a provider of its own.
func FromEnv(e *credcheck.Env, ep storage.Endpoint) (Config, error) {
	credsPath := e.Expand(e.Var("AWS_SHARED_CREDENTIALS_FILE"))
	if credsPath == "" {
		credsPath = e.HomeFile(".aws", "credentials")
	}
	configPath := e.Expand(e.Var("AWS_CONFIG_FILE"))
	if configPath == "" {
		configPath = e.HomeFile(".aws", "config")
	}
	files, err := readAWSFiles(e, credsPath, configPath)
	if err != nil {
		return Config{}, err
	}
	profile := e.Var("AWS_PROFILE")
	if profile == "" {
		profile = e.Var("AWS_DEFAULT_PROFILE")
	}
	explicit := profile != ""
	if profile == "" {
		profile = defaultProfile
	}
	if !strings.EqualFold(e.Var(IgnoreEndpointsEnv), "true") {
		if u := firstNonEmpty(e.Var(EndpointS3Env), e.Var(EndpointEnv)); u != "" {
			ep.URL = u
		}
	}
	if ep.Region == "" {
		ep.Region = firstNonEmpty(e.Var("AWS_REGION"), e.Var("AWS_DEFAULT_REGION"), files.get(profile, "region"))
	}
	cfg := Config{Kind: storage.S3, Endpoint: ep}
	if id, secret := e.Var("AWS_ACCESS_KEY_ID"), e.Var("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		cfg.Credentials = Static{AccessKeyID: id, SecretAccessKey: secret, SessionToken: e.Var("AWS_SESSION_TOKEN"),
			Source: "environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}
		return cfg, nil
	}
	if c, ok := files.credentials(profile); ok {
		cfg.Credentials = Static(c)
		return cfg, nil
	}
	cfg.Credentials = missing{reason: files.missing(profile, explicit)}
	return cfg, nil
}

// FromR2 returns the configuration of a Cloudflare R2 client: the endpoint of the account in
// ~/.cloudflare/accountid, and the r2 profile of ~/.cloudflare/r2.credentials.
func FromR2(e *credcheck.Env) (Config, error) {
	acctPath := e.HomeFile(cloudflareDir, r2AccountFile)
	data, ok, err := e.Read(acctPath)
	if err != nil {
		return Config{}, err
	}
	account := strings.TrimSpace(data)
	if !ok || account == "" {
		return Config{}, fmt.Errorf("r2: no Cloudflare account id in %s: write your account id (the R2 dashboard shows "+
			"it) there, alone", e.Show(acctPath))
	}
	credsPath := e.HomeFile(cloudflareDir, r2CredsFile)
	files, err := readAWSFiles(e, credsPath, "")
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Kind: storage.R2, Endpoint: storage.Endpoint{URL: "https://" + account + "." + r2Domain,
		Region: "auto", PathStyle: true}}
	c, ok := files.credentials(R2Profile)
	if !ok {
		return Config{}, fmt.Errorf("r2: no access keys in profile %q of %s: create an R2 API token and run "+
			"`AWS_SHARED_CREDENTIALS_FILE=%s aws configure --profile r2`", R2Profile, e.Show(credsPath), e.Show(credsPath))
	}
	cfg.Credentials = Static(c)
	return cfg, nil
}

// awsFiles are the shared credentials and config files (either may be absent).
type awsFiles struct {
	e                     *credcheck.Env
	credsPath, configPath string
	creds, config         *credcheck.INI
}

// readAWSFiles reads the files that exist of the two paths ("" for none).
func readAWSFiles(e *credcheck.Env, credsPath, configPath string) (awsFiles, error) {
	a := awsFiles{e: e, credsPath: credsPath, configPath: configPath}
	for _, f := range []struct {
		path string
		dst  **credcheck.INI
	}{{a.credsPath, &a.creds}, {a.configPath, &a.config}} {
		if f.path == "" {
			continue
		}
		data, ok, err := e.Read(f.path)
		if err != nil {
			return a, err
		}
		if ok {
			*f.dst = credcheck.ParseINI(data)
		}
	}
	return a, nil
}

// get returns a profile's key, the credentials file winning over the config file as in the SDKs.
func (a awsFiles) get(profile, key string) string {
	if a.creds != nil {
		if v := a.creds.Get(profile, key); v != "" {
			return v
		}
	}
	if a.config != nil {
		section := "profile " + profile
		if profile == defaultProfile && !a.config.Has(section) {
			section = defaultProfile
		}
		return a.config.Get(section, key)
	}
	return ""
}

func (a awsFiles) credentials(profile string) (Credentials, bool) {
	id, secret := a.get(profile, "aws_access_key_id"), a.get(profile, "aws_secret_access_key")
	if id == "" || secret == "" {
		return Credentials{}, false
	}
	where := a.e.Show(a.credsPath)
	if a.creds == nil || a.creds.Get(profile, "aws_access_key_id") == "" {
		where = a.e.Show(a.configPath)
	}
	return Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: a.get(profile, "aws_session_token"),
		Source: "profile " + profile + " in " + where}, true
}

// missing says why no credentials were found, and what to do.
func (a awsFiles) missing(profile string, explicit bool) string {
	files := a.e.Show(a.credsPath)
	if a.configPath != "" {
		files += " or " + a.e.Show(a.configPath)
	}
	has := func(ini *credcheck.INI, s string) bool { return ini != nil && ini.Has(s) }
	switch {
	case explicit && !has(a.creds, profile) && !has(a.config, "profile "+profile):
		return fmt.Sprintf("AWS_PROFILE selects profile %q, which is not in %s: run `aws configure --profile %s`", profile, files, profile)
	case has(a.creds, profile) || has(a.config, "profile "+profile) || has(a.config, profile):
		return fmt.Sprintf("profile %q in %s has no access keys (stix's storage client reads access keys; for SSO or "+
			"roles, export them with `aws configure export-credentials --format env`)", profile, files)
	}
	return fmt.Sprintf("no AWS credentials in the environment or %s: run `aws configure`, or set AWS_ACCESS_KEY_ID "+
		"and AWS_SECRET_ACCESS_KEY", files)
}

// missing is the provider of absent credentials: every request fails with the reason.
type missing struct{ reason string }

// Missing reports whether p is FromEnv's provider of absent credentials (no access keys in the environment or
// the profile), which a caller may replace with a chain that knows more (SSO, roles, credential_process).
func Missing(p CredentialsProvider) bool {
	_, ok := p.(missing)
	return ok
}

func (m missing) Retrieve(context.Context) (Credentials, error) {
	return Credentials{}, &storage.CredentialsError{Store: storage.S3, Reason: m.reason}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
