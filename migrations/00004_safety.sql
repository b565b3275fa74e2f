-- +goose Up
-- Read-only merchant keys: 'read' may only read (GET), 'read_write' may act.
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'read_write' CHECK (scope IN ('read', 'read_write'));

-- +goose Down
ALTER TABLE api_keys DROP COLUMN scope;
