package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stix-run/stix/internal/store"
)

// EnabledKey is the store key/value entry holding the enabled infra that `stix check` found last.
const EnabledKey = "check/enabled_infra"

// errCorrupt is wrapped by LoadEnabled's error for a value it cannot decode.
var errCorrupt = errors.New("cached enabled infra is corrupt")

// enabledRecord is EnabledKey's JSON value.
type enabledRecord struct {
	Infra     []string  `json:"infra"`
	CheckedAt time.Time `json:"checked_at"`
}

// SaveEnabled records the enabled set after a check at time at. As in SkyPilot, a partial check (some infra
// named) only changes the infra it checked: those enabled now are added, those disabled now are removed, and
// the others keep their cached state. The set is kept in check order.
func SaveEnabled(ctx context.Context, st store.Store, results []Result, at time.Time) error {
	prev, _, err := LoadEnabled(ctx, st)
	if err != nil && !errors.Is(err, errCorrupt) {
		return err // a corrupt cache is replaced below; only a store failure stops the save
	}
	checked := map[string]bool{}
	set := map[string]bool{}
	for _, r := range results {
		checked[r.Infra] = true
		set[r.Infra] = r.Enabled
	}
	for _, n := range prev {
		if !checked[n] {
			set[n] = true
		}
	}
	rec := enabledRecord{Infra: []string{}, CheckedAt: at.UTC()}
	for _, n := range Names() {
		if set[n] {
			rec.Infra = append(rec.Infra, n)
		}
	}
	// Names the cache holds that this version does not check (a newer stix wrote them) are kept, after ours.
	for _, n := range prev {
		if _, ok := Canonical(n); !ok && !slices.Contains(rec.Infra, n) {
			rec.Infra = append(rec.Infra, n)
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("save enabled infra: %w", err)
	}
	if err := st.SetValue(ctx, EnabledKey, string(data)); err != nil {
		return fmt.Errorf("save enabled infra: %w", err)
	}
	return nil
}

// LoadEnabled returns the cached enabled set; ok is false when no check has been recorded yet (the caller
// should run one). A cache that cannot be decoded is an error naming the key, so it can be cleared by running
// `stix check` again.
func LoadEnabled(ctx context.Context, st store.Store) (names []string, ok bool, err error) {
	v, ok, err := st.GetValue(ctx, EnabledKey)
	if err != nil || !ok {
		return nil, false, err
	}
	var rec enabledRecord
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return nil, false, fmt.Errorf("%w (store key %s): %v; run `stix check` to refresh it", errCorrupt, EnabledKey, err)
	}
	return rec.Infra, true, nil
}
