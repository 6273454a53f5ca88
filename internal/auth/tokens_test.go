package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

func TestTokenExpires(t *testing.T) {
	ctx := context.Background()
	tokens, err := OpenTokens(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
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
