-- One schema for SQLite and PostgreSQL: only types and syntax both accept.
-- Times are BIGINT unix microseconds (0 = zero time) so both engines compare
-- and round-trip them identically; JSON lives in TEXT.

-- +goose Up
CREATE TABLE teams (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    models        TEXT NOT NULL DEFAULT '',
    rpm           BIGINT NOT NULL DEFAULT 0,
    tpm           BIGINT NOT NULL DEFAULT 0,
    max_parallel  BIGINT NOT NULL DEFAULT 0,
    budget_usd    DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_period TEXT NOT NULL DEFAULT '',
    metadata      TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    team          TEXT NOT NULL DEFAULT '',
    prefix        TEXT NOT NULL DEFAULT '',
    hash          TEXT NOT NULL UNIQUE,
    old_hash      TEXT NOT NULL DEFAULT '',
    old_until     BIGINT NOT NULL DEFAULT 0,
    models        TEXT NOT NULL DEFAULT '',
    endpoints     TEXT NOT NULL DEFAULT '',
    rpm           BIGINT NOT NULL DEFAULT 0,
    tpm           BIGINT NOT NULL DEFAULT 0,
    max_parallel  BIGINT NOT NULL DEFAULT 0,
    budget_usd    DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_period TEXT NOT NULL DEFAULT '',
    metadata      TEXT NOT NULL DEFAULT '',
    expires_at    BIGINT NOT NULL DEFAULT 0,
    revoked_at    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL DEFAULT 0
);

-- KeyByHash also looks a key up by its previous hash during a rotation grace.
CREATE INDEX keys_old_hash ON keys (old_hash);

-- A name identifies one live key; revoking a key frees its name. A partial
-- unique index (both engines support them) makes this race-free, where a
-- check-then-insert would not be under concurrent CreateKey calls.
CREATE UNIQUE INDEX keys_live_name ON keys (name) WHERE revoked_at = 0;

CREATE TABLE usage (
    request_id    TEXT PRIMARY KEY,
    ts            BIGINT NOT NULL,
    day           TEXT NOT NULL,
    key_id        TEXT NOT NULL DEFAULT '',
    key_name      TEXT NOT NULL DEFAULT '',
    team          TEXT NOT NULL DEFAULT '',
    user_name     TEXT NOT NULL DEFAULT '',
    endpoint      TEXT NOT NULL DEFAULT '',
    model_asked   TEXT NOT NULL DEFAULT '',
    provider      TEXT NOT NULL DEFAULT '',
    model_used    TEXT NOT NULL DEFAULT '',
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_us    BIGINT NOT NULL DEFAULT 0,
    ttft_us       BIGINT NOT NULL DEFAULT 0,
    status        INTEGER NOT NULL DEFAULT 0,
    error_class   TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    cache_hit     INTEGER NOT NULL DEFAULT 0,
    stream        INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX usage_ts ON usage (ts);
CREATE INDEX usage_team_ts ON usage (team, ts);
CREATE INDEX usage_key_ts ON usage (key_id, ts);

-- +goose Down
DROP TABLE usage;
DROP TABLE keys;
DROP TABLE teams;
