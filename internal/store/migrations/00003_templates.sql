-- Versioned prompt templates, and the template a request ran on its usage
-- record. As in 00001: times are BIGINT unix microseconds, JSON lives in TEXT.

-- +goose Up
-- One row per version of a template. The primary key makes concurrent
-- creations of one name race-free: a duplicate (name, version) fails and
-- CreateTemplate retries with the next version.
CREATE TABLE templates (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    messages   TEXT NOT NULL,
    variables  TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);

-- "name@version" of the template a request ran, '' for none.
ALTER TABLE usage ADD COLUMN template TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE usage DROP COLUMN template;
DROP TABLE templates;
