-- +goose Up
-- What a response cache hit saved: the cost of the call it replaced.
ALTER TABLE usage ADD COLUMN saved_usd DOUBLE PRECISION NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE usage DROP COLUMN saved_usd;
