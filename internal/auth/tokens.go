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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/lazyregexp"
	"github.com/stix-run/stix/internal/sqlitedb"
	"github.com/stix-run/stix/internal/store"
)

// TokenPrefix starts every service-account token, as SkyPilot's do.
const TokenPrefix = "sky_"

// tokenSecretLen is the length of a token after its prefix: 32 random bytes in unpadded base64url.
var tokenSecretLen = base64.RawURLEncoding.EncodedLen(32)

// legacyTokenMigrations made auth.db, where a server kept its tokens in its own directory before they moved to
// the state database (store migration 10: the same columns): OpenTokens imports such a file once.
var legacyTokenMigrations = []string{`
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

// LegacyTokensFile is the file in a server's directory where stix kept the server's tokens before they moved to
// the state database; once imported it is renamed with the suffix ".imported".
const LegacyTokensFile = "auth.db"

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

// Tokens is the server's token table, in the state database (SQLite or PostgreSQL): every server sharing the
// database accepts the same tokens. A token's SHA-256 is all that is kept of it (tokens are 256 random bits,
// so a fast hash is as good as a slow one).
type Tokens struct {
	db  *sql.DB
	q   func(string) string
	now func() time.Time
	// NotImported names the tokens of auth.db that OpenTokens did not import: the table had a token of that
	// name (another server sharing the database imported or created one). They no longer authenticate.
	NotImported []string
}

// OpenTokens uses the token table of the state database st, first importing the tokens dir/auth.db holds (a
// server of an older stix kept them there), once: the file is then renamed auth.db.imported. A token whose
// name the table already has is not imported.
func OpenTokens(ctx context.Context, st store.Store, dir string) (*Tokens, error) {
	sq, ok := store.SQLOf(st)
	if !ok {
		return nil, errors.New("tokens: the state store is not a SQL database")
	}
	t := &Tokens{db: sq.DB, q: sq.Q, now: time.Now}
	if err := t.importLegacy(ctx, filepath.Join(dir, LegacyTokensFile)); err != nil {
		return nil, fmt.Errorf("import the tokens of %s: %w", filepath.Join(dir, LegacyTokensFile), err)
	}
	return t, nil
}

func (t *Tokens) importLegacy(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := sqlitedb.OpenContext(ctx, path, legacyTokenMigrations)
	if err != nil {
		return err
	}
	defer old.Close()
	rows, err := old.QueryContext(ctx, `SELECT name, role, hash, created, creator, expires, revoked, last_used FROM tokens`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name, role, hash, creator  string
			created                    int64
			expires, revoked, lastUsed sql.NullInt64
		)
		if err := rows.Scan(&name, &role, &hash, &created, &creator, &expires, &revoked, &lastUsed); err != nil {
			return err
		}
		res, err := t.db.ExecContext(ctx, t.q(`INSERT INTO tokens (name, role, hash, created, creator, expires, revoked, last_used)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), name, role, hash, created, creator, expires, revoked, lastUsed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.NotImported = append(t.NotImported, name)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	if err := old.Close(); err != nil {
		return err
	}
	return os.Rename(path, path+".imported")
}

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
	_, err := t.db.ExecContext(ctx, t.q(`INSERT INTO tokens (name, role, hash, created, creator, expires) VALUES (?, ?, ?, ?, ?, ?)`),
		name, role, HashToken(token), now.UnixNano(), creator, expires)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "unique") {
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
	err := t.db.QueryRowContext(ctx, t.q(`SELECT name, role, expires, revoked FROM tokens WHERE hash = ?`), hash).
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
	_, _ = t.db.ExecContext(ctx, t.q(`UPDATE tokens SET last_used = ? WHERE name = ? AND (last_used IS NULL OR last_used < ?)`),
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
	res, err := t.db.ExecContext(ctx, t.q(`UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL`), t.now().UnixNano(), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var exists int
	_ = t.db.QueryRowContext(ctx, t.q(`SELECT count(*) FROM tokens WHERE name = ?`), name).Scan(&exists)
	if exists > 0 {
		return &api.Error{Code: api.CodeConflict, Status: 409, Message: fmt.Sprintf("token %q is already revoked", name)}
	}
	return &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no token named %q", name), Hint: "`stix api token list` shows them"}
}

// HasAdmin reports whether a valid admin token exists (not revoked, not expired).
func (t *Tokens) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	err := t.db.QueryRowContext(ctx, t.q(`SELECT count(*) FROM tokens WHERE role = ? AND revoked IS NULL AND (expires IS NULL OR expires > ?)`),
		RoleAdmin, t.now().UnixNano()).Scan(&n)
	return n > 0, err
}
