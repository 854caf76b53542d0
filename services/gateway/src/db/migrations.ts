/** Schema migrations, applied in order; never edit one that has shipped, add a new one. */
export const MIGRATIONS: readonly string[] = [
  /* 1: the initial schema */ `
  CREATE TABLE models (
    node_id TEXT NOT NULL,
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    layout TEXT NOT NULL,
    files TEXT NOT NULL,
    mmproj TEXT,
    size_bytes INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    invalid_reason TEXT,
    architecture TEXT,
    name TEXT,
    quantization TEXT,
    parameter_count INTEGER,
    context_length INTEGER,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (node_id, id)
  );

  CREATE TABLE server_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE metadata (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    node_id TEXT,
    model_id TEXT,
    message TEXT NOT NULL
  );
  CREATE INDEX logs_ts ON logs (ts);
  CREATE INDEX logs_source_id ON logs (source, id);

  -- One row per series, tier and bucket. Raw rows have count 1; roll-ups keep sum and count.
  CREATE TABLE metrics_points (
    tier TEXT NOT NULL,
    series TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    sum REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (tier, series, bucket)
  ) WITHOUT ROWID;
  CREATE INDEX metrics_points_bucket ON metrics_points (tier, bucket);

  -- Redis stream entries already stored: a redelivered entry is not written twice.
  CREATE TABLE ingested (
    stream_id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX ingested_ts ON ingested (ts);
  `,
  /* 2: identity (users, sessions) and the audit log */ `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    -- argon2id PHC string; NULL for users that only sign in through the proxy.
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'proxy', 'none')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_seen_at INTEGER
  );

  -- Only the SHA-256 of a session id is stored: a copy of the database signs nobody in.
  CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    address TEXT,
    user_agent TEXT
  ) WITHOUT ROWID;
  CREATE INDEX sessions_user ON sessions (user_id);
  CREATE INDEX sessions_expires ON sessions (expires_at);

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    user_id TEXT,
    username TEXT,
    role TEXT,
    address TEXT,
    event TEXT NOT NULL,
    target TEXT,
    summary TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    request_id TEXT
  );
  CREATE INDEX audit_log_ts ON audit_log (ts);
  CREATE INDEX audit_log_username ON audit_log (username, id);
  CREATE INDEX audit_log_event ON audit_log (event, id);
  `,
  /* 3: logs:query served by indexes (a trigram full-text index, composite filter indexes) */ `
  -- Substring search over logs.message: an external-content FTS5 table (the text stays in logs only)
  -- with the trigram tokenizer, which answers LIKE '%abc%' from the index for runs of 3+ characters.
  -- detail=none keeps the index near the size of the text; LIKE rechecks each candidate row.
  CREATE VIRTUAL TABLE logs_fts USING fts5(
    message,
    content = 'logs',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 0',
    detail = none
  );
  INSERT INTO logs_fts (logs_fts) VALUES ('rebuild');
  CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
    INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
  END;
  CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
    INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
  END;
  CREATE TRIGGER logs_fts_update AFTER UPDATE OF message ON logs BEGIN
    INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
    INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
  END;

  -- Filters newest first by id: a level set ("warn and worse" is level IN (...)), with or without a
  -- source or a model; a model alone. A source alone has logs_source_id from migration 1.
  CREATE INDEX logs_level_id ON logs (level, id);
  CREATE INDEX logs_level_source_id ON logs (level, source, id);
  CREATE INDEX logs_level_model_id ON logs (level, model_id, id);
  CREATE INDEX logs_model_id ON logs (model_id, id);
  `,
  /* 4: revisions of editable documents, control jobs by id (intent and outcome), node liveness */ `
  -- Optimistic concurrency: one counter per document ('config', 'preset', 'settings',
  -- 'model-settings:<model id>'); absent = 0. An update names the revision it edited.
  CREATE TABLE revisions (
    document TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Every control job a gateway queued, written before it is queued, and its outcome, written once
  -- (state 'queued' -> 'completed' | 'failed') by whichever replica sees it end first.
  CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    name TEXT NOT NULL,
    subject TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'completed', 'failed')),
    error_code TEXT,
    error_message TEXT,
    result TEXT,
    created_at INTEGER NOT NULL,
    deadline_at INTEGER NOT NULL,
    finished_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX jobs_state_deadline ON jobs (state, deadline_at);
  CREATE INDEX jobs_finished ON jobs (finished_at);

  -- When each supervisor node was last heard from, and whether it is shown online.
  CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    last_heard_at INTEGER NOT NULL,
    online INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  /* 5: catalogue fields the supervisor reports since the router-faithful scan */ `
  -- The drafter beside a model (relative path) and a split set's shards as JSON
  -- {"count": n, "present": [1, 2, ...]}; NULL for none and for rows written before.
  ALTER TABLE models ADD COLUMN draft TEXT;
  ALTER TABLE models ADD COLUMN split TEXT;

  -- One row per node whose catalogue arrived: its directory entries neither the supervisor nor the
  -- router can read (a dangling link), as JSON [{"path", "reason"}]. A node without a row has not
  -- reported a catalogue yet, so no preset entry is judged against one.
  CREATE TABLE catalogues (
    node_id TEXT PRIMARY KEY,
    models_dir TEXT NOT NULL,
    scanned_at INTEGER NOT NULL,
    skipped TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  /* The /v1 endpoint: API keys and the activity of every request (never prompts or outputs) */ `
  -- Only the SHA-256 of a key is stored: keys are 256 random bits, so a fast hash is as strong as
  -- a slow one against guessing, and every request can check its key with one indexed lookup.
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    -- JSON array of model ids; NULL: every model.
    models TEXT,
    expires_at INTEGER,
    requests_per_minute INTEGER,
    tokens_per_minute INTEGER,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX api_keys_user ON api_keys (user_id);

  CREATE TABLE api_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    key_id TEXT,
    key_name TEXT,
    user_id TEXT,
    username TEXT,
    model TEXT,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    prompt_tokens INTEGER,
    cached_tokens INTEGER,
    completion_tokens INTEGER,
    ttft_ms REAL,
    tokens_per_sec REAL,
    duration_ms REAL NOT NULL,
    address TEXT,
    error TEXT
  );
  CREATE INDEX api_requests_ts ON api_requests (ts);
  CREATE INDEX api_requests_model_id ON api_requests (model, id);
  CREATE INDEX api_requests_key_id ON api_requests (key_id, id);
  CREATE INDEX api_requests_user_id ON api_requests (user_id, id);
  CREATE INDEX api_requests_status_id ON api_requests (status, id);
  `,
  /* 7: alerts: notification channels, rules and the delivery history */ `
  -- Channels: settings are shown to admins, secrets (URLs, tokens, passwords) never leave the gateway.
  -- The health columns say how its deliveries went lately (a failing channel is shown as such).
  CREATE TABLE alert_channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    settings TEXT NOT NULL,
    secrets TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_success_at INTEGER,
    last_failure_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- One row per rule (built-in rules are written on first read), the rule as JSON.
  CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    builtin INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  -- One row per notification and channel: written before the job is queued (the unique key makes a
  -- repeated evaluation queue nothing), updated by the worker after every attempt.
  CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    event TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    subject TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'retrying', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    UNIQUE (message_id, channel_id)
  );
  CREATE INDEX alert_deliveries_ts ON alert_deliveries (ts);
  `,
  /* 8: logs:query by node */ `
  -- One node's lines newest first by id (the other filters have theirs from migrations 1 and 3).
  CREATE INDEX logs_node_id ON logs (node_id, id);
  `,
  /* 9: /v1 usage totals per UTC day, key, user and model, kept by the activity writer; the capture buffer */ `
  -- Written in the same transaction as the api_requests rows they count, so a usage query reads
  -- one row per day and group instead of every request. '' stands for "none" (a session, an
  -- environment key, an unknown model): NULLs would not collide in the primary key.
  CREATE TABLE api_usage_daily (
    day TEXT NOT NULL,
    key_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    model TEXT NOT NULL,
    key_name TEXT,
    username TEXT,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, key_id, user_id, model)
  ) WITHOUT ROWID;
  CREATE INDEX api_usage_daily_user ON api_usage_daily (user_id, day);
  INSERT INTO api_usage_daily
    SELECT strftime('%Y-%m-%d', ts / 1000, 'unixepoch'), COALESCE(key_id, ''), COALESCE(user_id, ''), COALESCE(model, ''),
      MAX(key_name), MAX(username), COUNT(*), SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END),
      COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)
    FROM api_requests GROUP BY 1, 2, 3, 4;

  -- The capture buffer (off by default): one settings row, and the prompts and outputs of at most
  -- max_requests recent requests, each side cut at max_bytes. Turning it off deletes them all.
  CREATE TABLE api_capture_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enabled INTEGER NOT NULL,
    max_requests INTEGER NOT NULL,
    max_bytes INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE api_captures (
    activity_id INTEGER PRIMARY KEY REFERENCES api_requests (id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    request TEXT NOT NULL,
    request_truncated INTEGER NOT NULL,
    response TEXT NOT NULL,
    response_truncated INTEGER NOT NULL
  );
  `,
  /* 10: memory-aware placement (#14): per-model pin / idle TTL / load on start-up, and the default TTL */ `
  -- One row per model with settings of its own; a model without a row has the defaults
  -- (not pinned, the default TTL, not loaded on start-up). ttl_seconds NULL = the default TTL.
  CREATE TABLE placement_models (
    model_id TEXT PRIMARY KEY,
    pinned INTEGER NOT NULL,
    ttl_seconds INTEGER,
    load_on_startup INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- The global idle TTL in seconds (0 = never); no row = 0.
  CREATE TABLE placement_defaults (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_ttl_seconds INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  /* 11: the full-text index of log lines as droppable partitions (#17: pruning returns space) */ `
  -- A prune removed each line from logs_fts too (a trigger), and FTS5 keeps a deleted line's entries
  -- and delete markers until segment merges: at 1M lines pruning did not shrink the file. New lines
  -- are indexed by LogRepository into contentless FTS5 tables of LOG_FTS_PARTITION_LINES ids each,
  -- debug lines apart (they are kept a shorter time), and a partition is dropped whole once none of
  -- its lines is left. The index so far (logs_fts, every level) becomes the oldest partition: it is
  -- no longer updated and is dropped once every line it indexes is pruned.
  DROP TRIGGER IF EXISTS logs_fts_insert;
  DROP TRIGGER IF EXISTS logs_fts_delete;
  DROP TRIGGER IF EXISTS logs_fts_update;
  CREATE TABLE logs_fts_partitions (
    name TEXT PRIMARY KEY,
    -- 'debug': debug lines only; 'other': the other levels; 'all': every level (logs_fts).
    class TEXT NOT NULL CHECK (class IN ('all', 'debug', 'other')),
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO logs_fts_partitions (name, class, first_id, last_id) SELECT 'logs_fts', 'all', 0, COALESCE(MAX(id), 0) FROM logs;

  -- How many lines logs holds, kept by LogRepository in the transactions that insert, prune and
  -- clear: the row cap is checked every prune, and COUNT(*) reads a whole index (15-25 ms at 1-1.5M lines).
  CREATE TABLE logs_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    line_count INTEGER NOT NULL
  );
  INSERT INTO logs_stats (id, line_count) SELECT 1, COUNT(*) FROM logs;
  `,
];
