package store

// migration is one schema version in both dialects. SQL runs on both SQLite and PostgreSQL; Postgres, when
// set, replaces it on PostgreSQL where the dialects differ.
type migration struct {
	SQL      string
	Postgres string
}

// migrations is the schema, one entry per version; entry i takes the database from version i to i+1. Append
// only: never edit an entry that has shipped. Times are Unix nanoseconds (BIGINT); JSON is TEXT. Both stores
// apply the same list with the same guarantees: each entry once, in its own transaction, and a database with
// more entries than this binary knows is refused.
var migrations = []migration{
	// 1: clusters, their history and usage, key/value.
	{SQL: `
-- One row per cluster incarnation: created when a name is first put, kept after the cluster is deleted.
-- The descriptive columns and the status live here only; clusters holds what matters while the cluster is live.
CREATE TABLE cluster_history (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    cloud             TEXT NOT NULL,
    region            TEXT NOT NULL,
    zone              TEXT NOT NULL,
    num_nodes         INTEGER NOT NULL,
    resources         TEXT NOT NULL,
    hourly_price      DOUBLE PRECISION NOT NULL,
    launched_at       BIGINT NOT NULL,
    status            TEXT NOT NULL,
    status_updated_at BIGINT NOT NULL,
    deleted_at        BIGINT
);
CREATE INDEX cluster_history_name ON cluster_history (name);

-- Live clusters only; a row is deleted on down.
CREATE TABLE clusters (
    name                  TEXT PRIMARY KEY,
    history_id            TEXT NOT NULL UNIQUE REFERENCES cluster_history (id),
    handle                TEXT NOT NULL,
    launched_at           BIGINT NOT NULL,
    last_use_at           BIGINT,
    last_use_command      TEXT NOT NULL,
    autostop_idle_minutes INTEGER NOT NULL,
    autostop_down         BOOLEAN NOT NULL,
    user_name             TEXT NOT NULL,
    config_hash           TEXT NOT NULL,
    cluster_yaml          TEXT NOT NULL
);

-- The spans an incarnation was UP; end_at NULL while it still is. At most one open span per incarnation.
CREATE TABLE usage_intervals (
    history_id TEXT NOT NULL REFERENCES cluster_history (id),
    start_at   BIGINT NOT NULL,
    end_at     BIGINT
);
CREATE INDEX usage_intervals_history ON usage_intervals (history_id, start_at);
CREATE UNIQUE INDEX usage_intervals_one_open ON usage_intervals (history_id) WHERE end_at IS NULL;

CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
`},
	// 2: the plan a cluster was launched with (JSON, provision.Assignment); '' for clusters recorded before.
	{SQL: `ALTER TABLE clusters ADD COLUMN assignment TEXT NOT NULL DEFAULT '';`},
	// 3: named leases with a holder and an expiry (see lease.go); token counts the changes of holder.
	{SQL: `
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    token       BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
`},
	// 4: the API server's requests and their events (internal/server). holder is the server process that runs
	// the request, under the lease "request/"+id.
	{SQL: `
CREATE TABLE requests (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    user_name TEXT NOT NULL,
    cluster   TEXT NOT NULL DEFAULT '',
    created   BIGINT NOT NULL,
    finished  BIGINT,
    status    TEXT NOT NULL,
    body      TEXT NOT NULL,
    result    TEXT,
    error     TEXT,
    holder    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_created ON requests (created);
CREATE INDEX requests_status ON requests (status);
CREATE TABLE request_events (
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    event      TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
);
`},
	// 5: managed jobs (internal/jobs): one row per job, one per task of its pipeline, and each task's state
	// changes with their reasons. A job's controller holds the lease "managed-job/"+id while it runs it.
	// Times are Unix nanoseconds, durations nanoseconds.
	{SQL: `
CREATE TABLE managed_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL,
    user_name        TEXT NOT NULL,
    workspace        TEXT NOT NULL DEFAULT '',
    submitted_at     BIGINT NOT NULL,
    run_timestamp    TEXT NOT NULL,
    request          TEXT NOT NULL,
    status           TEXT NOT NULL,
    current_task     INTEGER NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at         BIGINT
);
CREATE INDEX managed_jobs_user ON managed_jobs (user_name, id);
CREATE INDEX managed_jobs_status ON managed_jobs (status);
CREATE TABLE managed_job_tasks (
    job_id         BIGINT NOT NULL REFERENCES managed_jobs (id) ON DELETE CASCADE,
    task_id        INTEGER NOT NULL,
    name           TEXT NOT NULL,
    resources      TEXT NOT NULL,
    status         TEXT NOT NULL,
    cluster        TEXT NOT NULL DEFAULT '',
    cluster_job_id INTEGER NOT NULL DEFAULT 0,
    infra          TEXT NOT NULL DEFAULT '',
    cloud          TEXT NOT NULL DEFAULT '',
    region         TEXT NOT NULL DEFAULT '',
    started_at     BIGINT,
    ended_at       BIGINT,
    running_since  BIGINT,
    job_duration   BIGINT NOT NULL DEFAULT 0,
    recoveries     INTEGER NOT NULL DEFAULT 0,
    restarts       INTEGER NOT NULL DEFAULT 0,
    attempt        INTEGER NOT NULL DEFAULT 0,
    failure_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, task_id)
);
CREATE TABLE managed_job_events (
    job_id  BIGINT NOT NULL REFERENCES managed_jobs (id) ON DELETE CASCADE,
    task_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    at      BIGINT NOT NULL,
    status  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, task_id, seq)
);
`, Postgres: `
CREATE TABLE managed_jobs (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL,
    user_name        TEXT NOT NULL,
    workspace        TEXT NOT NULL DEFAULT '',
    submitted_at     BIGINT NOT NULL,
    run_timestamp    TEXT NOT NULL,
    request          TEXT NOT NULL,
    status           TEXT NOT NULL,
    current_task     INTEGER NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at         BIGINT
);
CREATE INDEX managed_jobs_user ON managed_jobs (user_name, id);
CREATE INDEX managed_jobs_status ON managed_jobs (status);
CREATE TABLE managed_job_tasks (
    job_id         BIGINT NOT NULL REFERENCES managed_jobs (id) ON DELETE CASCADE,
    task_id        INTEGER NOT NULL,
    name           TEXT NOT NULL,
    resources      TEXT NOT NULL,
    status         TEXT NOT NULL,
    cluster        TEXT NOT NULL DEFAULT '',
    cluster_job_id INTEGER NOT NULL DEFAULT 0,
    infra          TEXT NOT NULL DEFAULT '',
    cloud          TEXT NOT NULL DEFAULT '',
    region         TEXT NOT NULL DEFAULT '',
    started_at     BIGINT,
    ended_at       BIGINT,
    running_since  BIGINT,
    job_duration   BIGINT NOT NULL DEFAULT 0,
    recoveries     INTEGER NOT NULL DEFAULT 0,
    restarts       INTEGER NOT NULL DEFAULT 0,
    attempt        INTEGER NOT NULL DEFAULT 0,
    failure_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, task_id)
);
CREATE TABLE managed_job_events (
    job_id  BIGINT NOT NULL REFERENCES managed_jobs (id) ON DELETE CASCADE,
    task_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    at      BIGINT NOT NULL,
    status  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, task_id, seq)
);
`},
	// 6: the workspace a cluster was launched in (SkyPilot's workspaces:); clusters recorded before are in
	// "default", as SkyPilot's are.
	{SQL: `ALTER TABLE clusters ADD COLUMN workspace TEXT NOT NULL DEFAULT 'default';`},
	// 7: services (`stix serve`, internal/services): one row per service, run by the server holding the lease
	// "service/"+name, and one per replica. spec is JSON (each version's task); autoscaler is the autoscaler's
	// saved state (JSON, '' before the first decision).
	{SQL: `
CREATE TABLE services (
    name            TEXT PRIMARY KEY,
    user_name       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    lb_port         INTEGER NOT NULL,
    spec            TEXT NOT NULL,
    autoscaler      TEXT NOT NULL DEFAULT '',
    next_replica_id INTEGER NOT NULL DEFAULT 1,
    down_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    ready_since     BIGINT NOT NULL DEFAULT 0,
    message         TEXT NOT NULL DEFAULT ''
);

CREATE TABLE service_replicas (
    service     TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
    replica_id  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    cluster     TEXT NOT NULL,
    endpoint    TEXT NOT NULL DEFAULT '',
    launched_at BIGINT NOT NULL,
    infra       TEXT NOT NULL DEFAULT '',
    resources   TEXT NOT NULL DEFAULT '',
    spot        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (service, replica_id)
);
`},
	// 8: `serve down NAME --replica-id N` asked of a server that does not run the service: the request waits in
	// the replica's row ('terminate', or 'purge' with --purge) until the controller that runs it acts on it.
	{SQL: `ALTER TABLE service_replicas ADD COLUMN terminate_requested TEXT NOT NULL DEFAULT '';`},
	// 9: pools of managed jobs (`stix jobs pool`, internal/jobs): one row per pool, run by the server holding the
	// lease "pool/"+name, one per worker (job_id: the managed job it runs, NULL when idle), and the pool a
	// managed job was submitted to ('' for a job with clusters of its own). spec is the workers' api.TaskSpec
	// (JSON).
	{SQL: `
CREATE TABLE pools (
    name           TEXT PRIMARY KEY,
    user_name      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    version        INTEGER NOT NULL,
    workers        INTEGER NOT NULL,
    spec           TEXT NOT NULL,
    resources      TEXT NOT NULL DEFAULT '',
    down_requested BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE pool_workers (
    pool        TEXT NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
    worker_id   INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    cluster     TEXT NOT NULL,
    job_id      BIGINT,
    launched_at BIGINT,
    infra       TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (pool, worker_id)
);

ALTER TABLE managed_jobs ADD COLUMN pool TEXT NOT NULL DEFAULT '';
CREATE INDEX managed_jobs_pool ON managed_jobs (pool);
`},
	// 10: the API server's service-account tokens (internal/auth; each server kept them in its own auth.db
	// before, which it imports once) and the dashboard's login sessions (internal/dashboard), so that every
	// server sharing the database accepts the same tokens and keeps the same sessions. A token's row keeps its
	// SHA-256, never the token; times are Unix nanoseconds, expires and revoked NULL when not set. A session's
	// id is the SHA-256 (hex) of its cookie, never the cookie itself; method is token or basic, credential what
	// the session checks again on every page: the SHA-256 of the token (as tokens keeps it) or of the user's
	// htpasswd entry.
	{SQL: `
CREATE TABLE tokens (
    name      TEXT PRIMARY KEY,
    role      TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,
    created   BIGINT NOT NULL,
    creator   TEXT NOT NULL,
    expires   BIGINT,
    revoked   BIGINT,
    last_used BIGINT
);

CREATE TABLE dashboard_sessions (
    id         TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    method     TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (method, user_name);
`},
	// 11: buckets (`file_mounts` storage, internal/cluster, `stix storage`): one row per bucket stix knows of.
	// managed: stix created the bucket (only those are ever deleted); sources is a JSON list; cluster is the
	// cluster whose launch made or last used it; mounts are kept with the cluster (its assignment), not here.
	{SQL: `
CREATE TABLE storage (
    name         TEXT PRIMARY KEY,
    store        TEXT NOT NULL,
    sources      TEXT NOT NULL DEFAULT '[]',
    endpoint     TEXT NOT NULL DEFAULT '',
    region       TEXT NOT NULL DEFAULT '',
    managed      BOOLEAN NOT NULL DEFAULT FALSE,
    persistent   BOOLEAN NOT NULL DEFAULT TRUE,
    user_name    TEXT NOT NULL,
    workspace    TEXT NOT NULL DEFAULT 'default',
    cluster      TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    launched_at  BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    last_command TEXT NOT NULL DEFAULT ''
);
CREATE INDEX storage_cluster ON storage (cluster);
`},
}

// dialectMigrations returns the migrations' SQL for one dialect.
func dialectMigrations(postgres bool) []string {
	out := make([]string, len(migrations))
	for i, m := range migrations {
		out[i] = m.SQL
		if postgres && m.Postgres != "" {
			out[i] = m.Postgres
		}
	}
	return out
}

// sqliteMigrations is the SQLite dialect of migrations, as package sqlitedb applies it.
var sqliteMigrations = dialectMigrations(false)
