-- The request log: prompt privacy settings of keys, keyed hashes of prompts
-- and answers on usage records, the raw text of sampled requests (kept apart
-- so it can be purged while usage stays), and settings shared by replicas.
-- Booleans are INTEGER 0/1 and times BIGINT unix microseconds, as in 00001.

-- +goose Up
ALTER TABLE keys ADD COLUMN privacy TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN log_prompts INTEGER NOT NULL DEFAULT 0;

ALTER TABLE usage ADD COLUMN prompt_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN response_hash TEXT NOT NULL DEFAULT '';

-- ListRequests pages newest first in (ts, request_id) order.
CREATE INDEX usage_ts_request ON usage (ts, request_id);

CREATE TABLE request_texts (
    request_id TEXT PRIMARY KEY,
    ts         BIGINT NOT NULL,
    prompt     TEXT NOT NULL DEFAULT '',
    response   TEXT NOT NULL DEFAULT ''
);

-- PurgeTexts deletes by age.
CREATE INDEX request_texts_ts ON request_texts (ts);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE request_texts;
DROP INDEX usage_ts_request;
ALTER TABLE usage DROP COLUMN response_hash;
ALTER TABLE usage DROP COLUMN prompt_hash;
ALTER TABLE keys DROP COLUMN log_prompts;
ALTER TABLE keys DROP COLUMN privacy;
