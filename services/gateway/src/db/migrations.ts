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
];
