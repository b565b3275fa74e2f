-- +goose Up
-- Console sessions: signing in with an API key makes one; the browser keeps only a
-- random token in an HttpOnly cookie, and this table keeps its hash, never the key. The
-- key's own row decides on every request (a revoked key ends its sessions at once).
CREATE TABLE console_sessions (
    token_hash bytea       PRIMARY KEY,
    key_id     text        NOT NULL REFERENCES api_keys (id),
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
