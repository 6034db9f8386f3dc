-- Policies for virtual keys and stored teams, and the response cache opt-out
-- of keys. A policy is referred to by its name in the config ('' for none).
-- Booleans are INTEGER 0/1, as in 00001.

-- +goose Up
ALTER TABLE keys ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN no_cache INTEGER NOT NULL DEFAULT 0;

ALTER TABLE teams ADD COLUMN policy TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE teams DROP COLUMN policy;
ALTER TABLE keys DROP COLUMN no_cache;
ALTER TABLE keys DROP COLUMN policy;
