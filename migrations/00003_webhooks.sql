-- +goose Up
CREATE TABLE webhook_endpoints (
    id                         text        PRIMARY KEY,
    merchant_id                text        NOT NULL REFERENCES merchants (id),
    url                        text        NOT NULL,
    description                text        NOT NULL DEFAULT '',
    events                     jsonb       NOT NULL, -- array of subscribed event types
    secret                     text        NOT NULL,
    -- during a rotation the previous secret keeps signing until it expires
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- enabled, or disabled with a reason ('gone': the receiver answered 410;
    -- 'failing': it failed continuously for WEBHOOK_DISABLE_AFTER)
    disabled_at                timestamptz,
    disabled_reason            text,
    failing_since              timestamptz,
    created_at                 timestamptz NOT NULL,
    deleted_at                 timestamptz
);
CREATE INDEX webhook_endpoints_merchant_idx ON webhook_endpoints (merchant_id) WHERE deleted_at IS NULL;

-- The outbox: written in the transaction of the change it announces. payload is the
-- exact body sent, so every retry carries the same bytes and the same event id.
CREATE TABLE webhook_events (
    id          text        PRIMARY KEY,
    merchant_id text        NOT NULL REFERENCES merchants (id),
    type        text        NOT NULL,
    subject_id  text,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhook_events_subject_idx ON webhook_events (subject_id, created_at);

CREATE TABLE webhook_deliveries (
    id               text        PRIMARY KEY,
    event_id         text        NOT NULL REFERENCES webhook_events (id),
    endpoint_id      text        NOT NULL REFERENCES webhook_endpoints (id),
    merchant_id      text        NOT NULL REFERENCES merchants (id),
    event_type       text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         int         NOT NULL DEFAULT 0,
    last_http_status int,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_merchant_idx ON webhook_deliveries (merchant_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

-- One row per HTTP attempt.
CREATE TABLE webhook_attempts (
    id           text        PRIMARY KEY,
    delivery_id  text        NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at timestamptz NOT NULL,
    http_status  int,
    latency_ms   int         NOT NULL,
    error        text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

-- +goose Down
DROP TABLE webhook_attempts, webhook_deliveries, webhook_events, webhook_endpoints;
