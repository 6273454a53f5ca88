package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
)

// clusterColumns is the SELECT list scanCluster reads, over clusters c joined to its history row h.
const clusterColumns = `c.name, h.id, h.status, h.cloud, h.region, h.zone, h.num_nodes, h.resources,
	h.hourly_price, c.handle, c.launched_at, h.status_updated_at, c.last_use_at, c.last_use_command,
	c.autostop_idle_minutes, c.autostop_down, c.user_name, c.config_hash, c.cluster_yaml, c.assignment, c.workspace
	FROM clusters c JOIN cluster_history h ON h.id = c.history_id`

// GetCluster returns the named cluster, or an error satisfying IsNotFound.
func (s *sqlStore) GetCluster(ctx context.Context, name string) (*Cluster, error) {
	c, err := scanCluster(s.db.QueryRowContext(ctx, s.q(`SELECT `+clusterColumns+` WHERE c.name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &notFound{name}
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster %q: %w", name, err)
	}
	return c, nil
}

// ListClusters returns every live cluster, sorted by name (bytewise, in Go: PostgreSQL's ORDER BY follows the
// database's collation, SQLite's does not).
func (s *sqlStore) ListClusters(ctx context.Context) ([]*Cluster, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+clusterColumns))
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	defer rows.Close()
	var out []*Cluster
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, fmt.Errorf("list clusters: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	slices.SortFunc(out, func(a, b *Cluster) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func scanCluster(row interface{ Scan(...any) error }) (*Cluster, error) {
	var (
		c                         Cluster
		resources, handle, plan   string
		launched, updated, usedAt sql.NullInt64
	)
	err := row.Scan(&c.Name, &c.ID, &c.Status, &c.Cloud, &c.Region, &c.Zone, &c.NumNodes, &resources,
		&c.HourlyPrice, &handle, &launched, &updated, &usedAt, &c.LastUse.Command,
		&c.Autostop.IdleMinutes, &c.Autostop.Down, &c.User, &c.ConfigHash, &c.ClusterYAML, &plan, &c.Workspace)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(resources), &c.Resources); err != nil {
		return nil, fmt.Errorf("cluster %q: resources column: %w", c.Name, err)
	}
	if handle != "" {
		c.Handle = json.RawMessage(handle)
	}
	if plan != "" {
		c.Assignment = json.RawMessage(plan)
	}
	c.LaunchedAt, c.StatusUpdatedAt, c.LastUse.At = goTime(launched), goTime(updated), goTime(usedAt)
	return &c, nil
}

// PutCluster inserts or replaces c and sets c.ID, and c.StatusUpdatedAt and c.LaunchedAt if they were zero.
func (s *sqlStore) PutCluster(ctx context.Context, c *Cluster) error {
	if err := validateCluster(c); err != nil {
		return err
	}
	resources, err := json.Marshal(c.Resources)
	if err != nil {
		return fmt.Errorf("save cluster %q: encode resources: %w", c.Name, err)
	}
	at := orNow(c.StatusUpdatedAt)
	launched := c.LaunchedAt
	if launched.IsZero() {
		launched = at
	}
	if c.Workspace == "" {
		c.Workspace = api.DefaultWorkspace
	}
	var id string
	err = s.inTx(ctx, c.Name, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`SELECT history_id FROM clusters WHERE name = ?`), c.Name).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if id, err = newID(); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO cluster_history (id, name, cloud, region, zone, num_nodes,
				resources, hourly_price, launched_at, status, status_updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				id, c.Name, c.Cloud, c.Region, c.Zone, c.NumNodes, string(resources), c.HourlyPrice, dbTime(launched),
				c.Status, dbTime(at))
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO clusters (name, history_id, handle, launched_at, last_use_at,
				last_use_command, autostop_idle_minutes, autostop_down, user_name, config_hash, cluster_yaml, assignment, workspace)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				c.Name, id, string(c.Handle), dbTime(launched), dbTime(c.LastUse.At), c.LastUse.Command,
				c.Autostop.IdleMinutes, c.Autostop.Down, c.User, c.ConfigHash, c.ClusterYAML, string(c.Assignment), c.Workspace)
		case err == nil:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE cluster_history SET cloud = ?, region = ?, zone = ?, num_nodes = ?,
				resources = ?, hourly_price = ?, status = ?, status_updated_at = ? WHERE id = ?`),
				c.Cloud, c.Region, c.Zone, c.NumNodes, string(resources), c.HourlyPrice, c.Status, dbTime(at), id)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`UPDATE clusters SET handle = ?, launched_at = ?, last_use_at = ?,
				last_use_command = ?, autostop_idle_minutes = ?, autostop_down = ?, user_name = ?, config_hash = ?,
				cluster_yaml = ?, assignment = ?, workspace = ? WHERE name = ?`),
				string(c.Handle), dbTime(launched), dbTime(c.LastUse.At), c.LastUse.Command, c.Autostop.IdleMinutes,
				c.Autostop.Down, c.User, c.ConfigHash, c.ClusterYAML, string(c.Assignment), c.Workspace, c.Name)
		}
		if err != nil {
			return err
		}
		return s.recordUsage(ctx, tx, id, c.Status, at)
	})
	if err != nil {
		return fmt.Errorf("save cluster %q: %w", c.Name, err)
	}
	c.ID, c.StatusUpdatedAt, c.LaunchedAt = id, at, launched
	return nil
}

func validateCluster(c *Cluster) error {
	switch {
	case c == nil:
		return errors.New("save cluster: nil cluster")
	case c.Name == "":
		return errors.New("save cluster: empty name")
	case !c.Status.Valid():
		return fmt.Errorf("save cluster %q: invalid status %q (want INIT, UP or STOPPED)", c.Name, c.Status)
	case c.NumNodes < 1:
		return fmt.Errorf("save cluster %q: num_nodes is %d, want at least 1", c.Name, c.NumNodes)
	case c.HourlyPrice < 0 || math.IsNaN(c.HourlyPrice) || math.IsInf(c.HourlyPrice, 0):
		return fmt.Errorf("save cluster %q: invalid hourly price %v", c.Name, c.HourlyPrice)
	case len(c.Handle) > 0 && !json.Valid(c.Handle):
		return fmt.Errorf("save cluster %q: handle is not valid JSON", c.Name)
	}
	return nil
}

// SetClusterStatus records a status change at time at (now if zero).
func (s *sqlStore) SetClusterStatus(ctx context.Context, name string, status ClusterStatus, at time.Time) error {
	if !status.Valid() {
		return fmt.Errorf("set status of cluster %q: invalid status %q (want INIT, UP or STOPPED)", name, status)
	}
	at = orNow(at)
	err := s.inTx(ctx, name, func(tx *sql.Tx) error {
		id, err := s.historyID(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE cluster_history SET status = ?, status_updated_at = ? WHERE id = ?`),
			status, dbTime(at), id)
		if err != nil {
			return err
		}
		return s.recordUsage(ctx, tx, id, status, at)
	})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("set status of cluster %q: %w", name, err)
	}
	return err
}

// DeleteCluster removes a live cluster at time at (now if zero); its history entry is kept.
func (s *sqlStore) DeleteCluster(ctx context.Context, name string, at time.Time) error {
	at = orNow(at)
	err := s.inTx(ctx, name, func(tx *sql.Tx) error {
		id, err := s.historyID(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := s.closeUsage(ctx, tx, id, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE cluster_history SET deleted_at = ? WHERE id = ?`), dbTime(at), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM clusters WHERE name = ?`), name)
		return err
	})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	return err
}

// historyID returns the live cluster's incarnation id, or a not-found error.
func (s *sqlStore) historyID(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, s.q(`SELECT history_id FROM clusters WHERE name = ?`), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", &notFound{name}
	}
	return id, err
}

// recordUsage keeps the usage intervals in step with a status change: UP opens one unless one is open, STOPPED
// closes it, INIT leaves it as it is (a cluster that goes from UP to INIT still has its nodes, and is billed).
func (s *sqlStore) recordUsage(ctx context.Context, tx *sql.Tx, id string, status ClusterStatus, at time.Time) error {
	switch status {
	case StatusUp:
		var open int
		err := tx.QueryRowContext(ctx,
			s.q(`SELECT count(*) FROM usage_intervals WHERE history_id = ? AND end_at IS NULL`), id).Scan(&open)
		if err != nil || open > 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO usage_intervals (history_id, start_at) VALUES (?, ?)`), id, dbTime(at))
		return err
	case StatusStopped:
		return s.closeUsage(ctx, tx, id, at)
	}
	return nil
}

// closeUsage ends the open usage interval, if any, at time at, or at its start if the clock went backwards.
func (s *sqlStore) closeUsage(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE usage_intervals SET end_at = CASE WHEN start_at > ? THEN start_at ELSE ? END
		WHERE history_id = ? AND end_at IS NULL`), dbTime(at), dbTime(at), id)
	return err
}

// ClusterHistory returns every incarnation of every cluster, oldest launch first, with its usage intervals.
func (s *sqlStore) ClusterHistory(ctx context.Context) ([]*HistoryEntry, error) {
	// One statement, so one consistent snapshot of history and intervals.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT h.id, h.name, h.cloud, h.region, h.zone, h.num_nodes, h.resources,
		h.hourly_price, h.launched_at, h.status, h.deleted_at, u.start_at, u.end_at
		FROM cluster_history h LEFT JOIN usage_intervals u ON u.history_id = h.id
		ORDER BY h.launched_at, h.id, u.start_at`))
	if err != nil {
		return nil, fmt.Errorf("read cluster history: %w", err)
	}
	defer rows.Close()
	var out []*HistoryEntry
	for rows.Next() {
		var (
			e                 HistoryEntry
			resources         string
			launched, deleted sql.NullInt64
			start, end        sql.NullInt64
		)
		err := rows.Scan(&e.ID, &e.Name, &e.Cloud, &e.Region, &e.Zone, &e.NumNodes, &resources, &e.HourlyPrice,
			&launched, &e.Status, &deleted, &start, &end)
		if err != nil {
			return nil, fmt.Errorf("read cluster history: %w", err)
		}
		// Rows of one entry are adjacent (ordered by id within launched_at); the first carries the entry.
		if len(out) == 0 || out[len(out)-1].ID != e.ID {
			if err := json.Unmarshal([]byte(resources), &e.Resources); err != nil {
				return nil, fmt.Errorf("read cluster history: %q resources column: %w", e.Name, err)
			}
			e.LaunchedAt, e.DeletedAt = goTime(launched), goTime(deleted)
			out = append(out, &e)
		}
		if start.Valid {
			last := out[len(out)-1]
			last.Intervals = append(last.Intervals, Interval{Start: goTime(start), End: goTime(end)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read cluster history: %w", err)
	}
	return out, nil
}

// newID returns a random incarnation id.
func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate cluster id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
