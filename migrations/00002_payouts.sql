-- +goose Up
-- Payout batches: one provider submission per token per batch, keyed by the batch id.
CREATE TABLE payout_batches (
    id                 text           PRIMARY KEY,
    token              text           NOT NULL REFERENCES tokens (symbol),
    -- submitting:   claimed, items processing, provider not yet known to have it
    -- submitted:    provider accepted it; waiting for each item's outcome
    -- completed:    every item confirmed or failed
    -- needs_review: retry budget spent on an ambiguous outcome; funds stay locked
    status             text           NOT NULL CHECK (status IN ('submitting', 'submitted', 'completed', 'needs_review')),
    item_count         int            NOT NULL CHECK (item_count > 0),
    total_amount       numeric(38,18) NOT NULL,
    provider           text           NOT NULL,
    provider_reference text,
    attempts           int            NOT NULL DEFAULT 0,
    last_error         text,
    created_at         timestamptz    NOT NULL,
    updated_at         timestamptz    NOT NULL,
    submitted_at       timestamptz,
    completed_at       timestamptz,
    flagged_at         timestamptz
);
CREATE INDEX payout_batches_status_idx ON payout_batches (status, created_at);

ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_batch_fk FOREIGN KEY (batch_id) REFERENCES payout_batches (id);
CREATE INDEX withdrawals_batch_idx ON withdrawals (batch_id) WHERE batch_id IS NOT NULL;

-- Every manual intervention of an admin, append-only.
CREATE TABLE admin_actions (
    id          text        PRIMARY KEY,
    actor       text        NOT NULL,
    action      text        NOT NULL,
    target_type text        NOT NULL,
    target_id   text        NOT NULL,
    details     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX admin_actions_target_idx ON admin_actions (target_type, target_id);

-- The sandbox payout provider's own books: what it was asked to pay, once per
-- (batch, withdrawal). A resubmitted batch finds its rows and pays nothing twice.
CREATE TABLE sandbox_payouts (
    batch_id      text           NOT NULL,
    withdrawal_id text           NOT NULL,
    token         text           NOT NULL,
    address       text           NOT NULL,
    amount        numeric(38,18) NOT NULL,
    status        text           NOT NULL CHECK (status IN ('accepted', 'failed')),
    tx_hash       text,
    reason        text,
    submitted_at  timestamptz    NOT NULL,
    confirm_at    timestamptz    NOT NULL,
    PRIMARY KEY (batch_id, withdrawal_id)
);

-- +goose Down
DROP TABLE sandbox_payouts, admin_actions;
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_batch_fk;
DROP INDEX withdrawals_batch_idx;
DROP TABLE payout_batches;
