-- +goose Up
-- usage_ts_request (ts, request_id) serves every query usage_ts did; one
-- B-tree less to update on each usage record written.
DROP INDEX usage_ts;

-- +goose Down
CREATE INDEX usage_ts ON usage (ts);
