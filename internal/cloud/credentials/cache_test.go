package credentials

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestEnabledCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	if _, ok, err := LoadEnabled(ctx, st); ok || err != nil {
		t.Fatalf("fresh store: ok=%v err=%v, want no cache", ok, err)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	full := []Result{{Infra: "aws", Enabled: true}, {Infra: "gcp"}, {Infra: "kubernetes", Enabled: true}, {Infra: "local", Enabled: true}}
	if err := SaveEnabled(ctx, st, full, at); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LoadEnabled(ctx, st)
	if err != nil || !ok || !slices.Equal(got, []string{"aws", "kubernetes", "local"}) {
		t.Fatalf("after a full check: %v %v %v", got, ok, err)
	}
	raw, _, _ := st.GetValue(ctx, EnabledKey)
	if !strings.Contains(raw, `"checked_at":"2025-06-01T12:00:00Z"`) {
		t.Errorf("cached value %s lacks the check time", raw)
	}

	// A partial check changes only what it checked.
	partial := []Result{{Infra: "aws"}, {Infra: "gcp", Enabled: true}}
	if err := SaveEnabled(ctx, st, partial, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _, _ = LoadEnabled(ctx, st)
	if want := []string{"gcp", "kubernetes", "local"}; !slices.Equal(got, want) {
		t.Errorf("after a partial check: %v, want %v", got, want)
	}
}

func TestEnabledCacheKeepsUnknownNamesAndReplacesCorruptValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	if err := st.SetValue(ctx, EnabledKey, `{"infra":["fluidstack","aws"]}`); err != nil {
		t.Fatal(err)
	}
	if err := SaveEnabled(ctx, st, []Result{{Infra: "local", Enabled: true}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, _, _ := LoadEnabled(ctx, st)
	if want := []string{"aws", "local", "fluidstack"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	if err := st.SetValue(ctx, EnabledKey, "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadEnabled(ctx, st); err == nil || !strings.Contains(err.Error(), "run `stix check`") {
		t.Errorf("corrupt cache: err = %v", err)
	}
	if err := SaveEnabled(ctx, st, []Result{{Infra: "local", Enabled: true}}, time.Now()); err != nil {
		t.Fatalf("a check must replace a corrupt cache: %v", err)
	}
	if got, ok, err := LoadEnabled(ctx, st); err != nil || !ok || !slices.Equal(got, []string{"local"}) {
		t.Errorf("after replacing: %v %v %v", got, ok, err)
	}
}
