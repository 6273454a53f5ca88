package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/lazyregexp"
	"github.com/stix-run/stix/internal/sqlitedb"
)

// TokenPrefix starts every service-account token, as SkyPilot's do.
const TokenPrefix = "sky_"

// tokenSecretLen is the length of a token after its prefix: 32 random bytes in unpadded base64url.
var tokenSecretLen = base64.RawURLEncoding.EncodedLen(32)

// The token table: a token's SHA-256 is all that is kept of it (tokens are 256 random bits, so a fast hash is
// as good as a slow one). Times are Unix nanoseconds; expires and revoked are NULL when not set.
var tokenMigrations = []string{`
CREATE TABLE tokens (
	name      TEXT PRIMARY KEY,
	role      TEXT NOT NULL,
	hash      TEXT NOT NULL UNIQUE,
	created   INTEGER NOT NULL,
	creator   TEXT NOT NULL,
	expires   INTEGER,
	revoked   INTEGER,
	last_used INTEGER
);`}

// TokenInfo is what is kept of a service-account token: never the token itself.
type TokenInfo struct {
	// Name is the service account the token authenticates: the user its clusters and jobs are recorded under.
	Name     string     `json:"name"`
	Role     Role       `json:"role"`
	Created  time.Time  `json:"created"`
	Creator  string     `json:"creator"`
	Expires  *time.Time `json:"expires,omitempty"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// Tokens is the server's token table (auth.db in the server's directory).
type Tokens struct {
	db  *sql.DB
	now func() time.Time
}

// OpenTokens opens (creating) dir/auth.db.
func OpenTokens(ctx context.Context, dir string) (*Tokens, error) {
	db, err := sqlitedb.OpenContext(ctx, filepath.Join(dir, "auth.db"), tokenMigrations)
	if err != nil {
		return nil, fmt.Errorf("open the API server's token database in %s: %w", dir, err)
	}
	return &Tokens{db: db, now: time.Now}, nil
}

// Close closes the database.
func (t *Tokens) Close() error { return t.db.Close() }

// HashToken is what the table keeps of a token.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// validName is a service account's name: it becomes a user name, on clusters and in SKYPILOT_USER.
var validName = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Create makes a token named name with role, valid for ttl (0: until revoked), and returns it: the only time
// it is seen. A name already in use (revoked or not) is refused: revoked names stay, so that a leaked token's
// name is never reused.
func (t *Tokens) Create(ctx context.Context, name string, role Role, ttl time.Duration, creator string) (string, TokenInfo, error) {
	if !validName.MatchString(name) {
		return "", TokenInfo{}, badRequest(fmt.Sprintf("token name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name))
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", TokenInfo{}, badRequest(err.Error())
	}
	if ttl < 0 {
		return "", TokenInfo{}, badRequest("a token's lifetime must be 0 (never expires) or more")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", TokenInfo{}, err
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	now := t.now()
	info := TokenInfo{Name: name, Role: role, Created: now.UTC(), Creator: creator}
	var expires sql.NullInt64
	if ttl > 0 {
		e := now.Add(ttl).UTC()
		info.Expires, expires = &e, sql.NullInt64{Int64: e.UnixNano(), Valid: true}
	}
	_, err := t.db.ExecContext(ctx, `INSERT INTO tokens (name, role, hash, created, creator, expires) VALUES (?, ?, ?, ?, ?, ?)`,
		name, role, HashToken(token), now.UnixNano(), creator, expires)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return "", TokenInfo{}, &api.Error{Code: api.CodeConflict, Status: 409, Message: fmt.Sprintf("a token named %q exists (or existed: revoked names are not reused)", name),
				Hint: "choose another name; `stix api token list` shows them"}
		}
		return "", TokenInfo{}, err
	}
	return token, info, nil
}

// Lookup returns the identity a token authenticates, or an *Error (401) that says why it does not: malformed,
// unknown, revoked or expired.
func (t *Tokens) Lookup(ctx context.Context, token string) (Identity, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) != len(TokenPrefix)+tokenSecretLen {
		return Identity{}, unauthorized("malformed token: a stix service-account token is sky_ and %d more characters", tokenSecretLen)
	}
	return t.LookupHash(ctx, HashToken(token))
}

// LookupHash is Lookup for the token whose HashToken is hash: how a dashboard session, which keeps only the
// hash, checks its token again.
func (t *Tokens) LookupHash(ctx context.Context, hash string) (Identity, error) {
	var (
		name, role       string
		expires, revoked sql.NullInt64
	)
	err := t.db.QueryRowContext(ctx, `SELECT name, role, expires, revoked FROM tokens WHERE hash = ?`, hash).
		Scan(&name, &role, &expires, &revoked)
	now := t.now()
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Identity{}, unauthorized("unknown token: this API server did not issue it")
	case err != nil:
		return Identity{}, err
	case revoked.Valid:
		return Identity{}, unauthorized("token %q was revoked", name)
	case expires.Valid && now.UnixNano() >= expires.Int64:
		return Identity{}, unauthorized("token %q expired at %s", name, time.Unix(0, expires.Int64).UTC().Format(time.RFC3339))
	}
	// last_used to the minute: a write per request would make every request a writer.
	_, _ = t.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE name = ? AND (last_used IS NULL OR last_used < ?)`,
		now.UnixNano(), name, now.Add(-time.Minute).UnixNano())
	return Identity{Name: name, Role: Role(role), Method: "token"}, nil
}

// List returns every token's record, revoked ones included, by name.
func (t *Tokens) List(ctx context.Context) ([]TokenInfo, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT name, role, created, creator, expires, revoked, last_used FROM tokens ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TokenInfo{}
	for rows.Next() {
		var (
			i                         TokenInfo
			created                   int64
			expires, revoked, lastUse sql.NullInt64
		)
		if err := rows.Scan(&i.Name, &i.Role, &created, &i.Creator, &expires, &revoked, &lastUse); err != nil {
			return nil, err
		}
		i.Created = time.Unix(0, created).UTC()
		i.Expires, i.Revoked, i.LastUsed = optTime(expires), optTime(revoked), optTime(lastUse)
		out = append(out, i)
	}
	return out, rows.Err()
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.Unix(0, v.Int64).UTC()
	return &t
}

// Revoke revokes the token named name; it fails with 404 when there is none and 409 when it already was.
func (t *Tokens) Revoke(ctx context.Context, name string) error {
	res, err := t.db.ExecContext(ctx, `UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL`, t.now().UnixNano(), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var exists int
	_ = t.db.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE name = ?`, name).Scan(&exists)
	if exists > 0 {
		return &api.Error{Code: api.CodeConflict, Status: 409, Message: fmt.Sprintf("token %q is already revoked", name)}
	}
	return &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no token named %q", name), Hint: "`stix api token list` shows them"}
}

// HasAdmin reports whether a valid admin token exists (not revoked, not expired).
func (t *Tokens) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	err := t.db.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = ? AND revoked IS NULL AND (expires IS NULL OR expires > ?)`,
		RoleAdmin, t.now().UnixNano()).Scan(&n)
	return n > 0, err
}
