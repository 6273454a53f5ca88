package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/sqlitedb"
	"github.com/stix-run/stix/internal/store"
)

func TestTokenExpires(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tokens, err := OpenTokens(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tokens.now = func() time.Time { return now }
	tok, _, err := tokens.Create(ctx, "ci", RoleUser, 24*time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tokens.Lookup(ctx, tok); err != nil || id.Name != "ci" || id.Role != RoleUser {
		t.Fatalf("fresh token: %+v %v", id, err)
	}
	now = now.Add(24 * time.Hour)
	_, err = tokens.Lookup(ctx, tok)
	var e *api.Error
	if !errors.As(err, &e) || e.Status != 401 || !strings.Contains(e.Message, `token "ci" expired`) {
		t.Fatalf("expired token: %v", err)
	}
	if ok, _ := tokens.HasAdmin(ctx); ok {
		t.Fatal("no admin token exists")
	}
}

// TestLegacyTokensAreImported: the tokens a server of an older stix kept in auth.db in its directory move to the
// state database once, still valid (and still revoked), and the file is set aside.
func TestLegacyTokensAreImported(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sqlitedb.OpenContext(ctx, filepath.Join(dir, LegacyTokensFile), legacyTokenMigrations)
	if err != nil {
		t.Fatal(err)
	}
	const live, gone = "sky_" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", "sky_" + "GFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210"
	for _, r := range []struct {
		name, tok string
		revoked   any
	}{{"ci", live, nil}, {"old", gone, int64(1)}} {
		if _, err := old.Exec(`INSERT INTO tokens (name, role, hash, created, creator, revoked) VALUES (?, 'admin', ?, 1, 'stix api start', ?)`,
			r.name, HashToken(r.tok), r.revoked); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tokens, err := OpenTokens(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tokens.Lookup(ctx, live); err != nil || id.Name != "ci" || id.Role != RoleAdmin {
		t.Errorf("the imported token: %+v, %v", id, err)
	}
	if _, err := tokens.Lookup(ctx, gone); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("the imported revoked token: %v, want revoked", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyTokensFile+".imported")); err != nil {
		t.Errorf("auth.db not set aside: %v", err)
	}
	if _, err := OpenTokens(ctx, st, dir); err != nil {
		t.Errorf("opening again: %v", err)
	}

	// Another server's auth.db, over the same database, with a name the table has: that token is not imported.
	other := t.TempDir()
	old, err = sqlitedb.OpenContext(ctx, filepath.Join(other, LegacyTokensFile), legacyTokenMigrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`INSERT INTO tokens (name, role, hash, created, creator) VALUES ('ci', 'admin', 'h2', 1, 'x'), ('ci2', 'user', 'h3', 1, 'x')`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	tokens, err = OpenTokens(ctx, st, other)
	if err != nil || len(tokens.NotImported) != 1 || tokens.NotImported[0] != "ci" {
		t.Errorf("a second server's import: not imported %v (%v), want ci", tokens.NotImported, err)
	}
}
