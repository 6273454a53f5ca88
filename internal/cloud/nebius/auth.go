package nebius

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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/config"
)

// TokenEnv holds an IAM token (`nebius iam get-access-token`), as Nebius's CLI reads it; it comes first.
const TokenEnv = "NEBIUS_IAM_TOKEN"

// The files SkyPilot reads, under ~/.nebius: an IAM token, a service account's key (credentials.json, from
// `nebius iam auth-public-key generate`), the tenant's id and the API domain.
const (
	tokenFile   = "NEBIUS_IAM_TOKEN.txt"
	credsFile   = "credentials.json"
	tenantFile  = "NEBIUS_TENANT_ID.txt"
	domainFile  = "NEBIUS_DOMAIN.txt"
	credentials = "~/.nebius/" + credsFile
)

// credsFix says how to give stix credentials.
const credsFix = "make a service account key with `nebius iam auth-public-key generate --service-account-id SA --output ~/.nebius/credentials.json` " +
	"(or put an IAM token in ~/.nebius/NEBIUS_IAM_TOKEN.txt or $" + TokenEnv + "), and the tenant id in ~/.nebius/NEBIUS_TENANT_ID.txt"

// serviceAccount is credentials.json's subject-credentials: a service account's RSA key, exchanged for an IAM
// token by signing a JWT with it.
type serviceAccount struct {
	Alg        string `json:"alg"`
	PrivateKey string `json:"private-key"`
	KeyID      string `json:"kid"`
	Issuer     string `json:"iss"`
	Subject    string `json:"sub"`
}

func nebiusDir() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".nebius")
}

// readTrim reads a small file, trimmed; "" when it is missing.
func readTrim(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// parseCredentials reads credentials.json.
func parseCredentials(data []byte) (*serviceAccount, error) {
	var f struct {
		Subject *serviceAccount `json:"subject-credentials"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w", credentials, err)
	}
	sa := f.Subject
	if sa == nil || sa.PrivateKey == "" || sa.KeyID == "" || sa.Subject == "" {
		return nil, errors.New(credentials + " has no subject-credentials with private-key, kid and sub")
	}
	if sa.Alg != "" && sa.Alg != "RS256" {
		return nil, fmt.Errorf("%s: alg %s (stix signs RS256)", credentials, sa.Alg)
	}
	if sa.Issuer == "" {
		sa.Issuer = sa.Subject
	}
	return sa, nil
}

// key parses the service account's PEM key (PKCS#8, or PKCS#1).
func (sa *serviceAccount) key() (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, errors.New(credentials + ": private-key is not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, errors.New(credentials + ": private-key is not an RSA key")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: private-key: %w", credentials, err)
	}
	return k, nil
}

// jwt is the self-signed token the exchange takes: RS256 with the key's id, the service account as issuer
// and subject, valid for jwtLife.
func (sa *serviceAccount) jwt(now time.Time) (string, error) {
	k, err := sa.key()
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": sa.KeyID})
	claims, _ := json.Marshal(map[string]any{"iss": sa.Issuer, "sub": sa.Subject, "iat": now.Unix(), "exp": now.Add(jwtLife).Unix()})
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

const jwtLife = 5 * time.Minute

// tokenCache keeps the IAM token exchanged for a service account key for this process, until shortly before
// it expires.
var tokenCache struct {
	sync.Mutex
	kid, token string
	expires    time.Time
}

// exchange trades the service account's JWT for an IAM token (TokenExchangeService.Exchange, RFC 8693).
func exchange(ctx context.Context, c *client, sa *serviceAccount) (string, error) {
	tokenCache.Lock()
	defer tokenCache.Unlock()
	if tokenCache.kid == sa.KeyID && time.Until(tokenCache.expires) > time.Minute {
		return tokenCache.token, nil
	}
	jwt, err := sa.jwt(time.Now())
	if err != nil {
		return "", err
	}
	req := msg(nil).str(1, "urn:ietf:params:oauth:grant-type:token-exchange").
		str(2, "urn:ietf:params:oauth:token-type:access_token").str(3, jwt).str(4, "urn:ietf:params:oauth:token-type:jwt")
	out, err := c.call(ctx, "tokens.iam", "nebius.iam.v1.TokenExchangeService/Exchange", req)
	if err != nil {
		return "", err
	}
	var token string
	var life int64
	if err := walk(out, func(f field) error {
		switch f.num {
		case 1:
			token = f.str()
		case 4:
			life = int64(f.v)
		}
		return nil
	}); err != nil || token == "" {
		return "", errors.New("the token exchange answered no access token")
	}
	if life <= 0 {
		life = 3600
	}
	tokenCache.kid, tokenCache.token, tokenCache.expires = sa.KeyID, token, time.Now().Add(time.Duration(life)*time.Second)
	return token, nil
}

// domain is the API domain: nebius.domain in stix's config, else ~/.nebius/NEBIUS_DOMAIN.txt, else
// DefaultDomain.
func domain(ctx context.Context) string {
	if v, ok := config.FromContext(ctx).Get("nebius.domain"); ok {
		if s, _ := v.(string); s != "" {
			return s
		}
	}
	if d := readTrim(filepath.Join(nebiusDir(), domainFile)); d != "" {
		return d
	}
	return DefaultDomain
}

// tenantID is the tenant's id: nebius.tenant_id in stix's config, else ~/.nebius/NEBIUS_TENANT_ID.txt.
func tenantID(ctx context.Context) string {
	if v, ok := config.FromContext(ctx).Get("nebius.tenant_id"); ok {
		if s, _ := v.(string); s != "" {
			return s
		}
	}
	return readTrim(filepath.Join(nebiusDir(), tenantFile))
}

// newClient returns a client with an IAM token: $NEBIUS_IAM_TOKEN, else ~/.nebius/NEBIUS_IAM_TOKEN.txt, else
// one exchanged for the service account key of ~/.nebius/credentials.json (SkyPilot's order).
func newClient(ctx context.Context) (*client, error) {
	c := &client{override: endpointOverride(), domain: domain(ctx), http: newHTTPClient()}
	if c.token = strings.TrimSpace(os.Getenv(TokenEnv)); c.token != "" {
		return c, nil
	}
	dir := nebiusDir()
	if c.token = readTrim(filepath.Join(dir, tokenFile)); c.token != "" {
		return c, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, credsFile))
	if err != nil {
		return nil, &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no credentials: " + credsFix}
	}
	sa, err := parseCredentials(data)
	if err != nil {
		return nil, &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: err.Error()}
	}
	if c.token, err = exchange(ctx, c, sa); err != nil {
		return nil, classify("exchange the service account key for a token", cloud.Place{Cloud: Name}, err)
	}
	return c, nil
}
