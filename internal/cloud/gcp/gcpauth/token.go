// Package gcpauth finds Google credentials by gcloud's rules (Application Default Credentials: a service-account key
// or `gcloud auth application-default login`'s user credentials, and the project) and turns them into OAuth 2.0
// access tokens. The Compute Engine provider (package gcp) and the GCS client (package storage/gcs, which the node
// agent links too) share it; it imports no Google SDK.
package gcpauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/cloud"
)

// OAuth 2.0 by hand rather than golang.org/x/oauth2: stix needs two grants (a service account's signed JWT and
// an authorized user's refresh token), about a hundred lines, and the module would be one more in the CLI's
// start-up budget (cmd/stix/startup_test.go) for no behaviour stix uses.

// Cloud is the provider name errors carry (cloud.Place).
const Cloud = "gcp"

// TokenURLEnv overrides the OAuth 2.0 token endpoint (tests, and private Google endpoints). Without it the
// credentials file's token_uri is used, else Google's.
const TokenURLEnv = "STIX_GCP_TOKEN_URL"

// defaultTokenURL is Google's OAuth 2.0 token endpoint.
const defaultTokenURL = "https://oauth2.googleapis.com/token"

// Scope is the scope stix asks for: cloud-platform covers Compute Engine and Cloud Storage.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// Key is what stix reads from a credentials JSON file (service-account key, ADC user credentials, external
// account).
type Key struct {
	Type           string `json:"type"`
	ProjectID      string `json:"project_id"`
	QuotaProjectID string `json:"quota_project_id"`
	ClientEmail    string `json:"client_email"`
	PrivateKey     string `json:"private_key"`
	PrivateKeyID   string `json:"private_key_id"`
	TokenURI       string `json:"token_uri"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	RefreshToken   string `json:"refresh_token"`
}

// TokenSource gets and caches access tokens for one credentials file. It is safe for concurrent use.
type TokenSource struct {
	key      Key
	path     string // for messages
	tokenURL string
	client   *http.Client
	now      func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// NewTokenSource returns the token source of key, read from path (named in messages). tokenURL overrides the
// key's token_uri when not empty.
func NewTokenSource(key Key, path, tokenURL string, client *http.Client) (*TokenSource, error) {
	switch key.Type {
	case "service_account", "authorized_user":
	default:
		return nil, &cloud.AuthError{Place: cloud.Place{Cloud: Cloud}, Reason: fmt.Sprintf(
			"%s holds %q credentials; stix signs in with a service-account key or `gcloud auth application-default login`'s user credentials", path, key.Type)}
	}
	if tokenURL == "" {
		tokenURL = key.TokenURI
	}
	if tokenURL == "" {
		tokenURL = defaultTokenURL
	}
	return &TokenSource{key: key, path: path, tokenURL: tokenURL, client: client, now: time.Now}, nil
}

// Token returns a valid access token, asking the token endpoint for a new one a minute before the last expires.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.now().Add(time.Minute).Before(ts.expiry) {
		return ts.token, nil
	}
	form := url.Values{}
	switch ts.key.Type {
	case "service_account":
		assertion, err := ts.assertion()
		if err != nil {
			return "", err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
	default: // authorized_user
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", ts.key.ClientID)
		form.Set("client_secret", ts.key.ClientSecret)
		form.Set("refresh_token", ts.key.RefreshToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Cloud}, Reason: "get an access token from " + ts.tokenURL, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		reason := strings.TrimSpace(out.Error + ": " + out.Description)
		if out.Error == "" {
			reason = fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body)
		}
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Cloud}, Reason: fmt.Sprintf(
			"the token endpoint refused the credentials in %s (%s)%s", ts.path, reason, AuthFix)}
	}
	ts.token = out.AccessToken
	ts.expiry = ts.now().Add(time.Duration(max(out.ExpiresIn, 60)) * time.Second)
	return ts.token, nil
}

// assertion is the service account's signed JWT (RFC 7523), RS256 with the key's private key.
func (ts *TokenSource) assertion() (string, error) {
	block, _ := pem.Decode([]byte(ts.key.PrivateKey))
	if block == nil {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Cloud}, Reason: ts.path + ": private_key is not a PEM key" + AuthFix}
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if err != nil || !ok {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Cloud}, Reason: ts.path + ": private_key is not an RSA key" + AuthFix, Err: err}
	}
	now := ts.now()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": ts.key.PrivateKeyID})
	claims, _ := json.Marshal(map[string]any{"iss": ts.key.ClientEmail, "scope": Scope, "aud": ts.tokenURL,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return unsigned + "." + enc.EncodeToString(sig), nil
}

// AuthFix ends the message of a rejected credential.
const AuthFix = " (check them with `gcloud auth application-default print-access-token`; run " +
	"`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file)"
